// Package templates holds the embedded email and page templates, parsed at
// start-up and overridable from a directory. Formatting only, no logic.
package templates
