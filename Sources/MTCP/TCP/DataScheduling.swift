/// The order in which the data list is served when the line cannot take
/// everything at once (`data_scheduling`). Control and ACK lists always go first.
public enum DataScheduling: String, Sendable, CaseIterable {
    /// First come, first served, as mTCP: a flow keeps its place until it has
    /// sent what its windows allow.
    case fifo
    /// Two FIFO classes: flows with at most `shortFlowThreshold` bytes left
    /// (unsent plus declared still to come, plus what was sent undeclared:
    /// `TCPConnection.sizeForScheduling`) before the rest.
    case twoClass = "two_class"
    /// Shortest remaining processing time: the flow with the fewest bytes left
    /// first, except that the oldest flow has a share of the line
    /// (`TCPLayer.oldestFlowShare`), so long flows do not starve.
    case srpt
}
