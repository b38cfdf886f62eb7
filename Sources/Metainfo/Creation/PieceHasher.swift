import CryptoPrimitives
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Which whole-file digests to compute while the pieces are hashed.
public enum WholeFileDigests: Sendable, Hashable {
    /// Pieces only (the fast default).
    case none
    /// Also each file's SHA-256, from the same reads (used to sign artifacts while making their torrent).
    case sha256
    /// Also each file's SHA-256 and BLAKE2b-512 (what prehashed minisign signatures sign), from the same reads.
    case sha256AndBLAKE2b512
}

/// The result of hashing a torrent's content.
public struct PieceHashes: Sendable, Hashable {
    /// The piece length used.
    public var pieceLength: Int
    /// The SHA-1 of every piece, concatenated (20 bytes each): the `pieces` value of a v1 info dictionary.
    public var pieces: [UInt8]
    /// Each file's SHA-256 in file order, when ``WholeFileDigests/sha256`` (or more) was asked for; otherwise nil.
    public var fileSHA256: [[UInt8]]?
    /// Each file's BLAKE2b-512 in file order, when ``WholeFileDigests/sha256AndBLAKE2b512`` was asked for;
    /// otherwise nil.
    public var fileBLAKE2b512: [[UInt8]]? = nil

    /// The number of pieces.
    public var pieceCount: Int { pieces.count / 20 }
}

/// Parallel SHA-1 piece hashing over a list of files read as one concatenated stream (BitTorrent v1: pieces span
/// file boundaries).
///
/// Design (see `Docs/make.md`): the stream is cut into work units of whole pieces (at least 4 MiB each). Worker
/// threads take units in stream order from an atomic counter, so the files are read front to back; each worker
/// reads its unit with `pread` into its own reusable buffer (see ``effectiveReadSize(buffersPerWorker:)``) and hashes
/// it: where the CPU has the SHA extensions, groups of four (or two) whole pieces go through an interleaved
/// multi-lane SHA-1 (2.2 or 1.7 times OpenSSL's single-stream speed per core); other pieces through OpenSSL's EVP
/// SHA-1. Memory is bounded by
/// `threads × read size` whatever the input size; nothing is memory-mapped.
///
/// With ``WholeFileDigests/sha256`` each buffer is, after its pieces are hashed, handed to a digest lane: a thread that
/// feeds the files' SHA-256 digests strictly in stream order and hands the buffer back. A file's SHA-256 is
/// sequential, so one lane is the critical path of a large file; with several files the stream is split at file
/// boundaries into up to ``digestLanes`` lanes of about equal size, each with its own thread, and the workers take
/// work units from the lanes interleaved (in proportion to their sizes), so the lanes' SHA-256 run side by side.
/// Each worker owns a few buffers per lane, so memory stays bounded and a worker ahead of a lane simply waits for
/// it to catch up; where a buffer straddles two lanes, the other lane gets a copy of its part (at most one buffer per
/// lane boundary), so no buffer waits for a lane that is far behind. Nothing is read twice.
public struct PieceHasher: Sendable {
    /// The piece length, a power of two (see ``PieceLength``).
    public var pieceLength: Int
    /// The number of hashing threads.
    public var threads: Int
    /// The size of one read and of each worker's buffer; nil chooses it, see ``effectiveReadSize(buffersPerWorker:)``.
    public var readSize: Int?
    /// Whether to hash four or two pieces at once with the CPU's SHA extensions when it has them (see `Docs/make.md`);
    /// otherwise every piece goes through OpenSSL. The digests are the same either way.
    public var interleavedSHA1 = true
    /// With file digests: the most SHA-256 lanes (threads) run side by side, each over its own files; nil for one per
    /// hashing thread when the content is at least ``parallelDigestMinimum`` bytes, otherwise one. Never more lanes
    /// than non-empty files. The digests are the same either way.
    public var digestLanes: Int?


    /// The most threads used, whatever is asked for.
    public static let maximumThreads = 256
    /// The total buffer memory aimed for; ``readSize`` shrinks when many threads are used.
    public static let bufferBudget = 32 << 20
    /// Buffers each worker owns per digest lane when whole-file digests are computed.
    static let buffersPerWorkerWithDigests = 3
    /// Below this many bytes, file digests use a single lane by default (more threads would not pay off).
    public static let parallelDigestMinimum: Int64 = 16 << 20

    /// Creates a hasher.
    ///
    /// - Parameters:
    ///   - pieceLength: the piece length in bytes; must be a power of two of at least 16 KiB.
    ///   - threads: the number of hashing threads; nil for one per online CPU core. Clamped to 1...256.
    ///   - readSize: bytes per read, a power of two of at least 64 KiB; nil to choose it.
    public init(pieceLength: Int, threads: Int? = nil, readSize: Int? = nil) {
        self.pieceLength = pieceLength
        self.threads = min(max(threads ?? Self.onlineCoreCount, 1), Self.maximumThreads)
        self.readSize = readSize
    }

    /// The read size used: ``readSize`` if set; otherwise four pieces (so pieces can be hashed four at a time), at
    /// least 2 MiB and at most 8 MiB, halved while `threads × buffersPerWorker × size` exceeds ``bufferBudget``.
    public func effectiveReadSize(buffersPerWorker: Int) -> Int {
        if let readSize { return readSize }
        var size = min(max(4 * pieceLength, 2 << 20), 8 << 20)
        while size > 64 << 10, size * threads * buffersPerWorker > Self.bufferBudget { size >>= 1 }
        return size
    }

    /// The number of CPU cores online.
    public static var onlineCoreCount: Int {
        max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)
    }

    /// Hashes `files` as one stream.
    ///
    /// - Parameters:
    ///   - files: the files in torrent order; each is read for exactly its `length` bytes.
    ///   - fileDigests: whether to also compute each file's SHA-256 from the same reads.
    ///   - progress: called on the calling thread, about ten times a second and once at the end, with the number
    ///     of bytes hashed so far.
    /// - Returns: the pieces (and file digests if asked for).
    /// - Throws: ``MetainfoError/Code/fileSystem`` naming the file when one cannot be opened or read, or is shorter
    ///   than its recorded length (it changed while being hashed); ``MetainfoError/Code/invalidPieceLength``.
    public func hashFiles(
        _ files: [ContentFile],
        fileDigests: WholeFileDigests = .none,
        progress: ((Int64) -> Void)? = nil
    ) throws(MetainfoError) -> PieceHashes {
        guard pieceLength >= PieceLength.minimum, pieceLength & (pieceLength - 1) == 0 else {
            throw MetainfoError(.invalidPieceLength, "piece length \(pieceLength) is not a power of two ≥ 16 KiB")
        }
        let layout = StreamLayout(files: files, pieceLength: pieceLength)
        let withDigests = fileDigests != .none
        let withBLAKE2b = fileDigests == .sha256AndBLAKE2b512
        let state = HashingState(pieceCount: layout.pieceCount, fileCount: files.count)
        let workerCount = max(1, min(threads, layout.unitCount))
        let laneCount =
            withDigests
            ? (digestLanes ?? (layout.totalSize >= Self.parallelDigestMinimum ? threads : 1)) : 1
        let digestPlan = withDigests ? DigestPlan(layout: layout, lanes: laneCount) : nil
        let buffers = withDigests ? Self.buffersPerWorkerWithDigests * (digestPlan?.laneCount ?? 1) : 1
        let readSize = effectiveReadSize(buffersPerWorker: buffers)
        let multiLane = interleavedSHA1 && MultiLaneSHA1.hasSHAExtensions
        let kinds: [DigestKind] = withBLAKE2b ? [.sha256, .blake2b512] : [.sha256]
        let handoff = digestPlan.map { DigestHandoff(workers: workerCount, plan: $0, kinds: kinds) }

        var started: [WorkerThread] = []
        var startError: MetainfoError?
        do throws(MetainfoError) {
            if let handoff {
                for lane in 0..<handoff.plan.laneCount {
                    for kind in kinds.indices {
                        started.append(
                            try WorkerThread {
                                runDigester(lane: lane, kind: kind, layout: layout, handoff: handoff, state: state)
                            }
                        )
                    }
                }
            }
            for index in 0..<workerCount {
                started.append(
                    try WorkerThread {
                        runWorker(
                            index, layout: layout, readSize: readSize, multiLane: multiLane, handoff: handoff,
                            state: state
                        )
                    }
                )
            }
        } catch {
            startError = error
            state.fail(error)
            handoff?.wakeEveryone()
        }
        var finished = 0
        while finished < started.count {
            if let progress {
                if state.finishedThreads.wait(timeout: .now() + .milliseconds(100)) == .success { finished += 1 }
                progress(Int64(state.bytesDone.load(ordering: .relaxed)))
            } else {
                state.finishedThreads.wait()
                finished += 1
            }
        }
        for thread in started { thread.join() }
        if let error = startError ?? state.failure.withLock({ $0 }) { throw error }
        let pieces = state.pieces.withLock { $0 }
        let digests = withDigests ? state.fileSHA256.withLock { $0 } : nil
        let blake2b = withBLAKE2b ? state.fileBLAKE2b512.withLock { $0 } : nil
        progress?(layout.totalSize)
        return PieceHashes(pieceLength: pieceLength, pieces: pieces, fileSHA256: digests, fileBLAKE2b512: blake2b)
    }
}

/// Where each file sits in the concatenated stream, and how the stream is cut into pieces and work units.
struct StreamLayout: Sendable {
    let files: [ContentFile]
    /// `starts[i]` is the stream offset of file `i`.
    let starts: [Int64]
    let totalSize: Int64
    let pieceLength: Int
    let pieceCount: Int
    let piecesPerUnit: Int
    let unitCount: Int

    /// The bytes a work unit covers at least (a whole number of pieces).
    static let unitTarget = 4 << 20

    init(files: [ContentFile], pieceLength: Int) {
        self.files = files
        var starts: [Int64] = []
        starts.reserveCapacity(files.count)
        var offset: Int64 = 0
        for file in files {
            starts.append(offset)
            offset += file.length
        }
        self.starts = starts
        totalSize = offset
        self.pieceLength = pieceLength
        pieceCount = Int((offset + Int64(pieceLength) - 1) / Int64(pieceLength))
        piecesPerUnit = max(4, Self.unitTarget / pieceLength)
        unitCount = (pieceCount + piecesPerUnit - 1) / piecesPerUnit
    }

    /// The index of the file holding stream offset `offset` (skipping empty files); `offset < totalSize`.
    func fileIndex(containing offset: Int64) -> Int {
        var low = 0
        var high = starts.count - 1
        // The last file whose start is <= offset; among empty files at the same start, the non-empty one follows.
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        while files[low].length == 0 || starts[low] + files[low].length <= offset { low += 1 }
        return low
    }

    /// The byte range of piece `index`.
    func pieceSize(_ index: Int) -> Int {
        let start = Int64(index) * Int64(pieceLength)
        return Int(min(Int64(pieceLength), totalSize - start))
    }
}

/// State shared by the hashing threads: only atomics and mutex-protected values.
final class HashingState: Sendable {
    let nextUnit = Atomic<Int>(0)
    let bytesDone = Atomic<Int>(0)
    let failed = Atomic<Bool>(false)
    let failure = Mutex<MetainfoError?>(nil)
    let pieces: Mutex<[UInt8]>
    let fileSHA256: Mutex<[[UInt8]]>
    let fileBLAKE2b512: Mutex<[[UInt8]]>
    /// Signalled once by every thread as it exits.
    let finishedThreads = DispatchSemaphore(value: 0)

    init(pieceCount: Int, fileCount: Int) {
        pieces = Mutex([UInt8](repeating: 0, count: pieceCount * 20))
        fileSHA256 = Mutex([[UInt8]](repeating: [], count: fileCount))
        fileBLAKE2b512 = Mutex([[UInt8]](repeating: [], count: fileCount))
    }

    /// Records the first failure and tells every thread to stop.
    func fail(_ error: MetainfoError) {
        failure.withLock { if $0 == nil { $0 = error } }
        failed.store(true, ordering: .releasing)
    }

    var hasFailed: Bool { failed.load(ordering: .acquiring) }
}

/// How file digests are split into lanes: contiguous runs of whole files, one SHA-256 thread each, and the order in
/// which the workers take work units so that every lane is fed.
struct DigestPlan: Sendable {
    /// `fileStarts[k]` is lane `k`'s first file; lane `k` is files `fileStarts[k] ..< fileStarts[k + 1]` (the last
    /// lane ends at the file count).
    let fileStarts: [Int]
    /// Stream offset where each lane starts; plus the total size at the end.
    let offsets: [Int64]
    /// Work units in the order the workers take them.
    let unitOrder: [Int]

    var laneCount: Int { fileStarts.count }

    /// Splits the files into at most `lanes` lanes of about equal bytes (never a non-empty file in two lanes).
    init(layout: StreamLayout, lanes: Int) {
        let total = layout.totalSize
        let nonEmpty = layout.files.reduce(0) { $0 + ($1.length > 0 ? 1 : 0) }
        let wanted = max(1, min(lanes, nonEmpty, PieceHasher.maximumThreads))
        var fileStarts = [0]
        var offsets: [Int64] = [0]
        if wanted > 1 {
            // Cut before the first file that starts at or after each k × total / wanted (k = 1 ..< wanted).
            for (index, start) in layout.starts.enumerated() where index > 0 && layout.files[index].length > 0 {
                let nextCut = total * Int64(fileStarts.count) / Int64(wanted)
                guard fileStarts.count < wanted, start >= nextCut, start > offsets.last! else { continue }
                fileStarts.append(index)
                offsets.append(start)
            }
        }
        offsets.append(total)
        self.fileStarts = fileStarts
        self.offsets = offsets

        // A unit belongs to the lane holding its last byte; lanes are interleaved in proportion to their units, so
        // all of them advance together.
        var perLane = [[Int]](repeating: [], count: fileStarts.count)
        let unitBytes = Int64(layout.piecesPerUnit) * Int64(layout.pieceLength)
        for unit in 0..<layout.unitCount {
            let last = min(Int64(unit + 1) * unitBytes, total) - 1
            perLane[Self.lane(containing: last, offsets: offsets)].append(unit)
        }
        var taken = [Int](repeating: 0, count: perLane.count)
        var order: [Int] = []
        order.reserveCapacity(layout.unitCount)
        while order.count < layout.unitCount {
            // The lane least far along (taken / count), ties to the lower lane.
            var best = -1
            for lane in perLane.indices where taken[lane] < perLane[lane].count {
                if best < 0 || taken[lane] * perLane[best].count < taken[best] * perLane[lane].count { best = lane }
            }
            order.append(perLane[best][taken[best]])
            taken[best] += 1
        }
        unitOrder = order
    }

    /// The lane whose stream range holds `offset`.
    func lane(containing offset: Int64) -> Int { Self.lane(containing: offset, offsets: offsets) }

    private static func lane(containing offset: Int64, offsets: [Int64]) -> Int {
        var low = 0
        var high = offsets.count - 2
        while low < high {
            let mid = (low + high + 1) / 2
            if offsets[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return low
    }
}

/// Buffers travelling from the workers to the in-order SHA-256 lanes and back.
final class DigestHandoff: Sendable {
    struct Filled: Sendable {
        /// The stream range this lane is to digest: `offset ..< offset + count`, at `start` in `buffer`.
        var offset: Int64
        var count: Int
        var start: Int
        var buffer: [UInt8]
        /// The worker that owns the buffer (and gets it back), or nil for a copy that is simply dropped.
        var worker: Int?
        /// With several digest threads per lane: how many have not finished with `buffer` yet (the last one hands it
        /// back).
        var remaining: Remaining?
    }

    /// A countdown shared by the digest threads of one lane for one buffer.
    final class Remaining: Sendable {
        let count: Atomic<Int>
        init(_ count: Int) { self.count = Atomic(count) }
        /// Counts one thread done; true for the last one.
        func finish() -> Bool { count.wrappingSubtract(1, ordering: .acquiringAndReleasing).oldValue == 1 }
    }

    /// One lane's filled buffers by stream offset, waiting for their turn, and the signal its thread waits on.
    final class Lane: Sendable {
        let pending = Mutex<[Int64: Filled]>([:])
        let signal = DispatchSemaphore(value: 0)
    }

    /// Buffers handed back to one worker (per lane), and the signal it waits on for them.
    final class ReturnSlot: Sendable {
        /// Per lane.
        let buffers: Mutex<[[[UInt8]]]>
        let signal = DispatchSemaphore(value: 0)
        init(lanes: Int) { buffers = Mutex([[[UInt8]]](repeating: [], count: lanes)) }
    }

    let plan: DigestPlan
    /// The digests computed, each on its own thread per lane (SHA-256, and BLAKE2b-512 when asked).
    let kinds: [DigestKind]
    /// One queue per lane and digest kind: `queues[lane * kinds.count + kind]`.
    let queues: [Lane]
    /// One slot per worker.
    let returned: [ReturnSlot]
    /// The buffers a worker may own per lane.
    let buffersPerLane: Int

    init(workers: Int, plan: DigestPlan, kinds: [DigestKind]) {
        self.plan = plan
        self.kinds = kinds
        queues = (0..<(plan.laneCount * kinds.count)).map { _ in Lane() }
        returned = (0..<workers).map { _ in ReturnSlot(lanes: plan.laneCount) }
        buffersPerLane = PieceHasher.buffersPerWorkerWithDigests
    }

    /// Hands `buffer` (the stream bytes `offset ..< offset + count`, read by `worker` for a unit of lane `home`) to
    /// the lanes it overlaps: lane `home` gets the buffer itself, any other lane a copy of its part. Returns the
    /// buffer when lane `home` does not need it (the worker keeps it).
    func deliver(_ buffer: [UInt8], offset: Int64, count: Int, home: Int, worker: Int) -> [UInt8]? {
        let end = offset + Int64(count)
        var kept: [UInt8]? = buffer
        var lane = plan.lane(containing: offset)
        while lane < plan.laneCount, plan.offsets[lane] < end {
            let from = max(offset, plan.offsets[lane])
            let to = min(end, plan.offsets[lane + 1])
            if to > from {
                let start = Int(from - offset)
                var filled: Filled
                if lane == home {
                    filled = Filled(offset: from, count: Int(to - from), start: start, buffer: buffer, worker: worker)
                    if kinds.count > 1 { filled.remaining = Remaining(kinds.count) }
                    kept = nil
                } else {
                    let part = Array(buffer[start..<(start + Int(to - from))])
                    filled = Filled(offset: from, count: part.count, start: 0, buffer: part, worker: nil)
                }
                for kind in kinds.indices {
                    let queue = queues[lane * kinds.count + kind]
                    queue.pending.withLock { $0[from] = filled }
                    queue.signal.signal()
                }
            }
            lane += 1
        }
        return kept
    }

    /// Wakes every waiting thread so it notices a failure.
    func wakeEveryone() {
        for queue in queues { queue.signal.signal() }
        for slot in returned { slot.signal.signal() }
    }
}

/// Reads stream ranges from the files, keeping the current file open.
private struct StreamReader: ~Copyable {
    let layout: StreamLayout
    private var openIndex = -1
    private var openDescriptor: Int32 = -1

    init(layout: StreamLayout) { self.layout = layout }

    deinit { if openDescriptor >= 0 { close(openDescriptor) } }

    /// Fills `buffer` with the stream bytes starting at `offset`.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(MetainfoError) {
        var filled = 0
        var position = offset
        var index = layout.fileIndex(containing: offset)
        while filled < buffer.count {
            let file = layout.files[index]
            let fileEnd = layout.starts[index] + file.length
            if position >= fileEnd {
                index += 1
                continue
            }
            let fd = try descriptor(for: index)
            let want = Int(min(Int64(buffer.count - filled), fileEnd - position))
            let got = pread(fd, buffer.baseAddress! + filled, want, off_t(position - layout.starts[index]))
            if got < 0 {
                if errno == EINTR { continue }
                throw TorrentContent.fileError(file.sourcePath, errno, doing: "cannot read")
            }
            if got == 0 {
                throw MetainfoError(
                    .fileSystem,
                    "file is shorter than the \(file.length) bytes it had when scanned (changed while hashing?); "
                        + "make the torrent again once it is stable",
                    source: file.sourcePath
                )
            }
            filled += got
            position += Int64(got)
        }
    }

    private mutating func descriptor(for index: Int) throws(MetainfoError) -> Int32 {
        if index == openIndex { return openDescriptor }
        if openDescriptor >= 0 { close(openDescriptor) }
        openDescriptor = -1
        openIndex = -1
        let path = layout.files[index].sourcePath
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TorrentContent.fileError(path, errno, doing: "cannot open") }
        #if os(Linux)
        // Tell the kernel to read ahead aggressively: the file is read front to back exactly once.
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        #endif
        openDescriptor = fd
        openIndex = index
        return fd
    }
}

/// One hashing thread: takes work units in stream order until none are left or something failed.
private func runWorker(
    _ worker: Int,
    layout: StreamLayout,
    readSize: Int,
    multiLane lanes: Bool,
    handoff: DigestHandoff?,
    state: HashingState
) {
    defer { state.finishedThreads.signal() }
    var reader = StreamReader(layout: layout)
    let laneCount = handoff?.plan.laneCount ?? 1
    // Per digest lane: buffers allocated so far and the ones on hand (without digests: one buffer, lane 0).
    var allocated = [Int](repeating: 0, count: laneCount)
    var spare = [[[UInt8]]](repeating: [], count: laneCount)
    var local: [UInt8] = []
    var digests: [UInt8] = []
    do throws(MetainfoError) {
        while !state.hasFailed {
            let next = state.nextUnit.wrappingAdd(1, ordering: .relaxed).oldValue
            guard next < layout.unitCount else { break }
            let unit = handoff?.plan.unitOrder[next] ?? next
            let firstPiece = unit * layout.piecesPerUnit
            let endPiece = min(firstPiece + layout.piecesPerUnit, layout.pieceCount)
            let start = Int64(firstPiece) * Int64(layout.pieceLength)
            let end = min(Int64(endPiece) * Int64(layout.pieceLength), layout.totalSize)
            digests.removeAll(keepingCapacity: true)
            var piece = firstPiece
            var partial: IncrementalDigest?
            var partialCount = 0
            var position = start
            while position < end {
                let count = Int(min(Int64(readSize), end - position))
                // A buffer: the worker's only one, or (with file digests) one of its own for the unit's lane: a spare,
                // a new one while fewer than the lane's share exist, or one the lane hands back.
                let home = handoff.map { $0.plan.lane(containing: end - 1) } ?? 0
                if local.isEmpty, let buffer = spare[home].popLast() { local = buffer }
                if local.isEmpty, handoff == nil || allocated[home] < handoff!.buffersPerLane {
                    local = [UInt8](repeating: 0, count: readSize)
                    allocated[home] += 1
                }
                if let handoff {
                    while local.isEmpty {
                        local = handoff.returned[worker].buffers.withLock { $0[home].popLast() ?? [] }
                        if !local.isEmpty { break }
                        handoff.returned[worker].signal.wait()
                        if state.hasFailed { return }
                    }
                }
                var readError: MetainfoError?
                local.withUnsafeMutableBytes { raw in
                    do throws(MetainfoError) {
                        try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<count]), at: position)
                    } catch {
                        readError = error
                    }
                }
                if let readError { throw readError }
                local.withUnsafeBytes { raw in
                    var index = 0
                    while index < count {
                        let size = layout.pieceSize(piece)
                        let take = min(size - partialCount, count - index)
                        let bytes = UnsafeRawBufferPointer(rebasing: raw[index..<(index + take)])
                        if lanes, partialCount == 0, take == size {
                            // Whole pieces of the same size in the buffer: hash four or two together on the SHA unit.
                            let whole = min((count - index) / size, layout.pieceCount - piece)
                            let group =
                                whole >= 4 && layout.pieceSize(piece + 3) == size
                                ? 4 : whole >= 2 && layout.pieceSize(piece + 1) == size ? 2 : 1
                            if group > 1 {
                                let start = digests.count
                                digests.append(contentsOf: repeatElement(0, count: 20 * group))
                                digests.withUnsafeMutableBytes { out in
                                    MultiLaneSHA1.hash(
                                        consecutive: UnsafeRawBufferPointer(rebasing: raw[index...]), length: size,
                                        count: group, into: UnsafeMutableRawBufferPointer(rebasing: out[start...]))
                                }
                                piece += group
                                index += group * size
                                continue
                            }
                        }
                        if partialCount == 0, take == size {
                            digests.append(contentsOf: DigestAlgorithm.sha1.hash(bytes))
                            piece += 1
                        } else {
                            let digest = partial ?? IncrementalDigest(.sha1)
                            digest.update(bytes)
                            partialCount += take
                            if partialCount == size {
                                digests.append(contentsOf: digest.finalize())
                                partial = nil
                                partialCount = 0
                                piece += 1
                            } else {
                                partial = digest
                            }
                        }
                        index += take
                    }
                }
                state.bytesDone.wrappingAdd(count, ordering: .relaxed)
                if let handoff {
                    let buffer = local
                    local = []
                    if let kept = handoff.deliver(buffer, offset: position, count: count, home: home, worker: worker) {
                        spare[home].append(kept)
                    }
                }
                position += Int64(count)
            }
            let range = (firstPiece * 20)..<(endPiece * 20)
            state.pieces.withLock { $0.replaceSubrange(range, with: digests) }
        }
    } catch {
        state.fail(error)
        handoff?.wakeEveryone()
    }
}

/// A whole-file digest a lane computes.
enum DigestKind: Sendable, Hashable {
    case sha256
    case blake2b512
}

/// One running whole-file digest.
private enum RunningDigest {
    case sha256(IncrementalDigest)
    case blake2b512(BLAKE2b)

    init(_ kind: DigestKind) {
        switch kind {
        case .sha256: self = .sha256(IncrementalDigest(.sha256))
        case .blake2b512: self = .blake2b512(BLAKE2b(outputByteCount: 64))
        }
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .sha256(let digest): digest.update(bytes)
        case .blake2b512(let digest): digest.update(bytes)
        }
    }

    func finalize() -> [UInt8] {
        switch self {
        case .sha256(let digest): digest.finalize()
        case .blake2b512(let digest): digest.finalize()
        }
    }
}

/// The in-order thread of one digest lane and kind: one whole-file digest of each of the lane's files, consuming the
/// lane's filled buffers strictly by stream offset. With two kinds, a buffer goes back to its worker when the second
/// thread is done with it.
private func runDigester(
    lane: Int, kind kindIndex: Int, layout: StreamLayout, handoff: DigestHandoff, state: HashingState
) {
    defer { state.finishedThreads.signal() }
    let plan = handoff.plan
    let kind = handoff.kinds[kindIndex]
    let endFile = lane + 1 < plan.laneCount ? plan.fileStarts[lane + 1] : layout.files.count
    let laneEnd = plan.offsets[lane + 1]
    let queue = handoff.queues[lane * handoff.kinds.count + kindIndex]
    var results: [(Int, [UInt8])] = []
    var expected = plan.offsets[lane]
    var fileIndex = plan.fileStarts[lane]
    var current: RunningDigest?

    // Finishes every file of the lane that ends at or before `offset` (including empty ones).
    func finishFiles(upTo offset: Int64) {
        while fileIndex < endFile, layout.starts[fileIndex] + layout.files[fileIndex].length <= offset {
            results.append((fileIndex, (current ?? RunningDigest(kind)).finalize()))
            current = nil
            fileIndex += 1
        }
    }

    finishFiles(upTo: expected)
    while expected < laneEnd {
        queue.signal.wait()
        if state.hasFailed { return }
        while var filled = queue.pending.withLock({ $0.removeValue(forKey: expected) }) {
            filled.buffer.withUnsafeBytes { raw in
                var index = filled.start
                let stop = filled.start + filled.count
                while index < stop {
                    let position = filled.offset + Int64(index - filled.start)
                    let fileEnd = layout.starts[fileIndex] + layout.files[fileIndex].length
                    let take = Int(min(Int64(stop - index), fileEnd - position))
                    let digest = current ?? RunningDigest(kind)
                    digest.update(UnsafeRawBufferPointer(rebasing: raw[index..<(index + take)]))
                    current = digest
                    index += take
                    finishFiles(upTo: position + Int64(take))
                }
            }
            expected += Int64(filled.count)
            guard let worker = filled.worker else { continue }
            guard filled.remaining?.finish() ?? true else {
                filled.buffer = []
                continue
            }
            let slot = handoff.returned[worker]
            slot.buffers.withLock { lists in
                lists[lane].append(filled.buffer)
                filled.buffer = []
            }
            slot.signal.signal()
        }
    }
    finishFiles(upTo: laneEnd)
    switch kind {
    case .sha256: state.fileSHA256.withLock { all in for (index, digest) in results { all[index] = digest } }
    case .blake2b512: state.fileBLAKE2b512.withLock { all in for (index, digest) in results { all[index] = digest } }
    }
}
