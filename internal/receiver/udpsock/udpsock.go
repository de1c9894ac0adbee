// Package udpsock holds the socket-level helpers the UDP receivers (Jaeger
// agent, X-Ray daemon) share: reading back the receive buffer the kernel
// granted, and counting the datagrams the kernel dropped before any reader
// saw them (Linux's SO_RXQ_OVFL).
package udpsock
