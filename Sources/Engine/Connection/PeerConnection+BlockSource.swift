import PeerWire

/// A peer connection as a source of blocks: requests and cancels are `request` and `cancel` messages, queued
/// until the session flushes the connection.
extension PeerConnection: BlockSource {
    var sourceID: Int { id }

    var pickerInfo: PickerPeerInfo { PickerPeerInfo(source: record.source, locality: record.locality) }

    func requestBlocks(_ requests: [BlockRequest]) {
        for request in requests { send(.request(request)) }
    }

    func cancelBlock(_ request: BlockRequest) {
        send(.cancel(request))
    }
}
