//go:build !linux

package jaeger

import "net"

const linuxDoubles = false

// enableKernelDrops is not available here: kernel drops are not counted.
func enableKernelDrops(*net.UDPConn) bool { return false }

func kernelDrops([]byte) (uint32, bool) { return 0, false }
