// Package web serves tikkit's HTTP side: the aggregate status page (/),
// /healthz, /metrics with a small dependency-free registry, and the request
// status pages /r/{number}/{key} reached from the link in every mail. It
// reads through store and checks keys with the signer cmd gives it.
package web
