package rules

import (
	"strings"
	"testing"
	"time"
)

func TestAllowAutomatic(t *testing.T) {
	cases := []struct {
		name          string
		l             Limits
		addr, global  int
		ok            bool
		reasonContain string
	}{
		{"nothing sent yet", Limits{}, 0, 0, true, ""},
		{"default: 10th mail goes", Limits{}, 9, 0, true, ""},
		{"default: 11th mail refused", Limits{}, 10, 0, false, "per-address"},
		{"default: far over", Limits{}, 500, 0, false, "per-address"},
		{"default breaker: below", Limits{}, 0, 999, true, ""},
		{"default breaker: at limit", Limits{}, 0, 1000, false, "circuit breaker"},
		{"breaker reported before per-address", Limits{}, 10, 1000, false, "circuit breaker"},
		{"set: 3 per day, 2 sent", Limits{PerAddressPerDay: 3}, 2, 0, true, ""},
		{"set: 3 per day, 3 sent", Limits{PerAddressPerDay: 3}, 3, 0, false, "limit 3"},
		{"set: 1 per day", Limits{PerAddressPerDay: 1}, 1, 0, false, "per-address"},
		{"set breaker 5: 4 sent", Limits{GlobalPerHour: 5}, 0, 4, true, ""},
		{"set breaker 5: 5 sent", Limits{GlobalPerHour: 5}, 0, 5, false, "limit 5"},
		{"negative setting means default", Limits{PerAddressPerDay: -1, GlobalPerHour: -1}, 9, 999, true, ""},
		{"negative setting means default, refused at it", Limits{PerAddressPerDay: -1}, 10, 0, false, "limit 10"},
		{"negative counts as zero", Limits{PerAddressPerDay: 1, GlobalPerHour: 1}, -5, -5, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, reason := c.l.AllowAutomatic(c.addr, c.global)
			if ok != c.ok {
				t.Fatalf("AllowAutomatic(%d, %d) = %v (%q), want %v", c.addr, c.global, ok, reason, c.ok)
			}
			if ok && reason != "" {
				t.Errorf("reason %q with ok", reason)
			}
			if !ok && !strings.Contains(reason, c.reasonContain) {
				t.Errorf("reason %q does not contain %q", reason, c.reasonContain)
			}
		})
	}
}

func TestRefusalDue(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		last time.Time
		want bool
	}{
		{"never refused", time.Time{}, true},
		{"just now", now, false},
		{"an hour ago", now.Add(-time.Hour), false},
		{"a nanosecond short of a day", now.Add(-24*time.Hour + time.Nanosecond), false},
		{"exactly a day", now.Add(-24 * time.Hour), true},
		{"two days", now.Add(-48 * time.Hour), true},
		{"in the future (clock stepped back)", now.Add(time.Hour), false},
		{"other time zone, same instant a day ago", now.Add(-24 * time.Hour).In(time.FixedZone("X", 5*3600)), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := RefusalDue(c.last, now); got != c.want {
				t.Errorf("RefusalDue(%v, %v) = %v, want %v", c.last, now, got, c.want)
			}
		})
	}
}
