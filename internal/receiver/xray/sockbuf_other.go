//go:build !linux

package xray

import "net"

// watchKernelDrops reports false: counting the kernel's drops needs
// Linux's SO_RXQ_OVFL.
func watchKernelDrops(*net.UDPConn) bool { return false }

func droppedSoFar([]byte) (uint32, bool) { return 0, false }

// receiveBuffer returns 0: unknown on this platform.
func receiveBuffer(*net.UDPConn) int { return 0 }
