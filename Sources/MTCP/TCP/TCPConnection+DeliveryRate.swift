/// What a model-based congestion control (BBR) sees of the connection: bytes
/// delivered per ACK, delivery rate samples, and the data in the network. Only
/// kept when the algorithm uses them; NewReno and CUBIC pay nothing.
extension TCPConnection {
    /// A segment of `length` data bytes at `sequence` left: new data may carry a
    /// snapshot; a retransmission voids those it covers.
    @inline(__always)
    mutating func noteDeliveryRateTransmission(sequence: SequenceNumber, length: Int, now: Instant) {
        guard congestion.isModelBased, length > 0 else { return }
        if sequence < sendMaximum {
            deliveryRate.retransmitted(from: sequence, to: sequence + length)
        } else {
            deliveryRate.sent(end: sequence + length, inFlightBefore: bytesInFlight, now: now)
        }
    }

    /// The bytes an ACK delivered and the rate sample it completed, measured
    /// after its SACK blocks are recorded and before SND.UNA moves.
    @inline(__always)
    mutating func measureDelivery(acknowledgment ack: SequenceNumber,
                                  now: Instant) -> (bytes: Int, sample: DeliveryRateSample?) {
        guard congestion.isModelBased else { return (0, nil) }
        let advance = max(0, ack - sendUnacknowledged)
        // SACKed bytes the cumulative ACK now covers are counted in the advance.
        let sackedAbove = scoreboard.sackedBytes - (advance > 0 ? scoreboard.sackedBytes(below: ack) : 0)
        return deliveryRate.acknowledged(advance: advance, sackedAbove: sackedAbove,
                                         acknowledgment: max(ack, sendUnacknowledged), scoreboard: &scoreboard, now: now)
    }

    /// Hands the ACK's delivery to the congestion control, once the ACK has
    /// moved SND.UNA and the recovery state.
    @inline(__always)
    mutating func reportDelivery(_ delivery: (bytes: Int, sample: DeliveryRateSample?), now: Instant) {
        guard delivery.bytes > 0 else { return }
        congestion.onDelivery(delivery.sample, newlyDelivered: delivery.bytes, delivered: deliveryRate.delivered,
                              inFlight: max(0, pipe - deliveryRate.resentDuringAck), now: now)
    }

    /// The sender ran out of data with room left in its windows: rate samples
    /// until what is in flight is delivered measure the application.
    @inline(__always)
    mutating func noteApplicationLimited() {
        guard congestion.isModelBased, unsentBytes == 0, !finDue, sendRoom > 0 else { return }
        deliveryRate.applicationLimited(inFlight: pipe)
    }
}
