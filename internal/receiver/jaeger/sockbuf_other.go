//go:build !unix

package jaeger

import "net"

// socketReceiveBuffer cannot read SO_RCVBUF on this platform.
func socketReceiveBuffer(*net.UDPConn) int { return 0 }
