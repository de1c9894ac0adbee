//go:build !unix

package udpsock

import "net"

// ReceiveBuffer returns 0: SO_RCVBUF cannot be read on this platform.
func ReceiveBuffer(*net.UDPConn) int { return 0 }
