// Package rules holds tikkit's policy as pure functions: registration and
// approval, location access, followers, notification recipients and loop
// limits. It does no I/O and imports no other tikkit package.
package rules
