// Package web serves tikkit's HTTP side: the aggregate status page (/), /healthz and
// /metrics, plus a tiny dependency-free metrics registry that cmd wires to the other
// packages. It shows no personal data and reaches no further than values it is given.
package web
