package rules

import (
	"fmt"
	"time"
)

// Defaults for Limits fields left at zero (or set negative).
const (
	DefaultPerAddressPerDay = 10
	DefaultGlobalPerHour    = 1000
)

// RefusalInterval is the least time between two refusals to one address.
const RefusalInterval = 24 * time.Hour

// Limits is RFC 3834 noise protection for automatic mail (acknowledgements,
// updates, refusals, welcome and approval mails …). A field ≤ 0 means its
// default.
type Limits struct {
	PerAddressPerDay int // automatic mails to one address in 24 h (default 10)
	GlobalPerHour    int // circuit breaker: automatic mails in all in one hour (default 1000)
}

func (l Limits) perAddress() int {
	if l.PerAddressPerDay <= 0 {
		return DefaultPerAddressPerDay
	}
	return l.PerAddressPerDay
}

func (l Limits) global() int {
	if l.GlobalPerHour <= 0 {
		return DefaultGlobalPerHour
	}
	return l.GlobalPerHour
}

// AllowAutomatic says whether one more automatic mail may go to an address
// that already got sentToAddress of them in the last 24 h, while
// sentGlobal went out in the last hour. It is allowed while both counts
// are below their limits: with the default 10, the 10th mail
// (sentToAddress 9) goes out, the 11th does not. Negative counts are taken
// as 0. The global circuit breaker is checked first; reason explains a
// refusal and is empty when ok.
func (l Limits) AllowAutomatic(sentToAddress, sentGlobal int) (ok bool, reason string) {
	if g := l.global(); sentGlobal >= g {
		return false, fmt.Sprintf("global circuit breaker: %d automatic mails sent in the last hour (limit %d)", sentGlobal, g)
	}
	if a := l.perAddress(); sentToAddress >= a {
		return false, fmt.Sprintf("per-address limit: %d automatic mails sent to this address in the last 24 h (limit %d)", sentToAddress, a)
	}
	return true, ""
}

// RefusalDue says whether a refusal may go to an address whose last
// refusal went out at lastRefusal (zero: never): at most one per address
// per RefusalInterval. A lastRefusal in the future (clock stepped back)
// counts as recent, so nothing is sent until RefusalInterval after it.
func RefusalDue(lastRefusal, now time.Time) bool {
	if lastRefusal.IsZero() {
		return true
	}
	return !now.Before(lastRefusal.Add(RefusalInterval))
}
