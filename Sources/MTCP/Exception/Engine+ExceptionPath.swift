/// The engine's side of the exception path: what it hands the kernel, and the
/// kernel's frames it sends out of the port. Only frames the stack would
/// otherwise drop take these branches; served traffic never reaches them.
extension Engine {
    /// Gives the engine its end of the kernel interface, before its first poll.
    public mutating func attachExceptionPath(_ path: consuming ExceptionPath<Device>) {
        exception = path
    }

    /// Hands a received frame the stack does not serve to the kernel; without an
    /// exception path it is dropped for `reason` (nil: released, not a drop).
    @inline(never)  // off the served path
    mutating func passToKernel(_ buffer: PacketBuffer, otherwise reason: DropReason?) {
        guard exception != nil else {
            if let reason { return drop(buffer, reason) }
            return device.release(buffer)
        }
        copyToKernel(buffer)
        device.release(buffer)
    }

    /// Sends the kernel a copy of a frame the stack goes on to process itself
    /// (ARP, so that both sides know the same neighbours).
    @inline(never)
    mutating func copyToKernel(_ buffer: PacketBuffer) {
        guard var copy = ExceptionPath<Device>.copy(buffer.frame, into: &exception!.device) else {
            return statistics.drops.count(.exceptionPathFull)
        }
        let length = copy.length
        let taken = withUnsafeMutablePointer(to: &copy) { one in
            exception!.device.transmit(UnsafeMutableBufferPointer(start: one, count: 1))
        }
        guard taken == 1 else {
            exception!.device.release(copy)
            return statistics.drops.count(.exceptionPathFull)
        }
        statistics.framesToKernel &+= 1
        statistics.bytesToKernel &+= UInt64(length)
    }

    /// Sends out of the port what the kernel sent to its interface, as it is:
    /// the kernel interface has the port's MAC and does its own ARP. Uses the
    /// receive batch, which the stack's frames have left by now.
    @inline(never)
    mutating func receiveFromKernel() -> Int {
        let received = exception!.device.receive(into: receiveBatch)
        for index in 0..<received {
            let buffer = receiveBatch[index]
            if let copy = ExceptionPath<Device>.copy(buffer.frame, into: &device) {
                statistics.framesFromKernel &+= 1
                statistics.bytesFromKernel &+= UInt64(copy.length)
                transmit(copy)
            } else {
                statistics.drops.count(.bufferExhausted)
            }
            exception!.device.release(buffer)
        }
        return received
    }

    /// Whether a TCP segment that no connection of the stack owns is the
    /// kernel's: its port has no listener, or the kernel keeps the port. Only
    /// asked with an exception path attached.
    @inline(never)
    func kernelOwnsSegment(toPort port: UInt16) -> Bool {
        tcp.listeners.find(port: port) == nil
            || (!exception!.kept.tcpPorts.isEmpty && exception!.kept.tcpPorts.contains(port))
    }
}
