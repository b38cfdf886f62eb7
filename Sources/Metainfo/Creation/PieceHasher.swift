import CSHA1NI
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
public enum FileDigests: Sendable, Hashable {
    /// Pieces only (the fast default).
    case none
    /// Also each file's SHA-256, from the same reads (used to sign artifacts while making their torrent).
    case sha256
}

/// The result of hashing a torrent's content.
public struct PieceHashes: Sendable, Hashable {
    /// The piece length used.
    public var pieceLength: Int
    /// The SHA-1 of every piece, concatenated (20 bytes each): the `pieces` value of a v1 info dictionary.
    public var pieces: [UInt8]
    /// Each file's SHA-256 in file order, when ``FileDigests/sha256`` was asked for; otherwise nil.
    public var fileSHA256: [[UInt8]]?

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
/// With ``FileDigests/sha256`` each buffer is, after its pieces are hashed, handed to one more thread that feeds
/// the files' SHA-256 digests strictly in stream order and hands the buffer back; each worker owns a few buffers,
/// so memory stays bounded and a worker ahead of the others simply waits for the stream to catch up.
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

    /// Whether this CPU has the SHA extensions the interleaved SHA-1 needs.
    public static let hasSHAExtensions = swt_sha1ni_available() != 0

    /// The most threads used, whatever is asked for.
    public static let maximumThreads = 256
    /// The total buffer memory aimed for; ``readSize`` shrinks when many threads are used.
    public static let bufferBudget = 32 << 20
    /// Buffers each worker owns when whole-file digests are computed.
    static let buffersPerWorkerWithDigests = 3

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
        fileDigests: FileDigests = .none,
        progress: ((Int64) -> Void)? = nil
    ) throws(MetainfoError) -> PieceHashes {
        guard pieceLength >= PieceLength.minimum, pieceLength & (pieceLength - 1) == 0 else {
            throw MetainfoError(.invalidPieceLength, "piece length \(pieceLength) is not a power of two ≥ 16 KiB")
        }
        let layout = StreamLayout(files: files, pieceLength: pieceLength)
        let withDigests = fileDigests == .sha256
        let state = HashingState(pieceCount: layout.pieceCount, fileCount: files.count)
        let workerCount = max(1, min(threads, layout.unitCount))
        let buffers = withDigests ? Self.buffersPerWorkerWithDigests : 1
        let readSize = effectiveReadSize(buffersPerWorker: buffers)
        let lanes = interleavedSHA1 && Self.hasSHAExtensions
        let handoff = withDigests ? DigestHandoff(workers: workerCount) : nil

        var started: [WorkerThread] = []
        var startError: MetainfoError?
        do throws(MetainfoError) {
            if let handoff {
                started.append(
                    try WorkerThread { runDigester(layout: layout, handoff: handoff, state: state) }
                )
            }
            for index in 0..<workerCount {
                started.append(
                    try WorkerThread {
                        runWorker(
                            index, layout: layout, readSize: readSize, lanes: lanes, buffers: buffers, handoff: handoff,
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
        progress?(layout.totalSize)
        return PieceHashes(pieceLength: pieceLength, pieces: pieces, fileSHA256: digests)
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
    /// Signalled once by every thread as it exits.
    let finishedThreads = DispatchSemaphore(value: 0)

    init(pieceCount: Int, fileCount: Int) {
        pieces = Mutex([UInt8](repeating: 0, count: pieceCount * 20))
        fileSHA256 = Mutex([[UInt8]](repeating: [], count: fileCount))
    }

    /// Records the first failure and tells every thread to stop.
    func fail(_ error: MetainfoError) {
        failure.withLock { if $0 == nil { $0 = error } }
        failed.store(true, ordering: .releasing)
    }

    var hasFailed: Bool { failed.load(ordering: .acquiring) }
}

/// Buffers travelling from the workers to the in-order SHA-256 thread and back.
final class DigestHandoff: Sendable {
    struct Filled: Sendable {
        var offset: Int64
        var count: Int
        var buffer: [UInt8]
        var worker: Int
    }

    /// Filled buffers by stream offset, waiting for their turn.
    let pending = Mutex<[Int64: Filled]>([:])
    let pendingSignal = DispatchSemaphore(value: 0)
    /// Buffers handed back to one worker, and the signal it waits on for them.
    final class ReturnSlot: Sendable {
        let buffers = Mutex<[[UInt8]]>([])
        let signal = DispatchSemaphore(value: 0)
    }

    /// One slot per worker.
    let returned: [ReturnSlot]

    init(workers: Int) {
        returned = (0..<workers).map { _ in ReturnSlot() }
    }

    /// Wakes every waiting thread so it notices a failure.
    func wakeEveryone() {
        pendingSignal.signal()
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
    lanes: Bool,
    buffers bufferCount: Int,
    handoff: DigestHandoff?,
    state: HashingState
) {
    defer { state.finishedThreads.signal() }
    var reader = StreamReader(layout: layout)
    var allocated = 0
    var local: [UInt8] = []
    var digests: [UInt8] = []
    do throws(MetainfoError) {
        while !state.hasFailed {
            let unit = state.nextUnit.wrappingAdd(1, ordering: .relaxed).oldValue
            guard unit < layout.unitCount else { break }
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
                // A buffer: the worker's only one, or (with file digests) one of its own handed back.
                if handoff == nil || allocated < bufferCount {
                    if local.isEmpty {
                        local = [UInt8](repeating: 0, count: readSize)
                        allocated += 1
                    }
                } else if let handoff {
                    while local.isEmpty {
                        handoff.returned[worker].signal.wait()
                        if state.hasFailed { return }
                        local = handoff.returned[worker].buffers.withLock { $0.popLast() ?? [] }
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
                                let first = raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + index
                                let start = digests.count
                                digests.append(contentsOf: repeatElement(0, count: 20 * group))
                                digests.withUnsafeMutableBufferPointer { out in
                                    let digest = out.baseAddress! + start
                                    if group == 4 {
                                        swt_sha1ni_x4(first, size, digest)
                                    } else {
                                        swt_sha1ni_x2(first, first + size, size, digest, digest + 20)
                                    }
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
                    let filled = DigestHandoff.Filled(offset: position, count: count, buffer: local, worker: worker)
                    local = []
                    handoff.pending.withLock { $0[position] = filled }
                    handoff.pendingSignal.signal()
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

/// The in-order thread for whole-file SHA-256: consumes filled buffers strictly by stream offset.
private func runDigester(layout: StreamLayout, handoff: DigestHandoff, state: HashingState) {
    defer { state.finishedThreads.signal() }
    var results = [[UInt8]](repeating: [], count: layout.files.count)
    var expected: Int64 = 0
    var fileIndex = 0
    var current: IncrementalDigest?

    // Finishes every file that ends at or before `offset` (including empty ones).
    func finishFiles(upTo offset: Int64) {
        while fileIndex < layout.files.count, layout.starts[fileIndex] + layout.files[fileIndex].length <= offset {
            let digest = current ?? IncrementalDigest(.sha256)
            results[fileIndex] = digest.finalize()
            current = nil
            fileIndex += 1
        }
    }

    finishFiles(upTo: 0)
    while expected < layout.totalSize {
        handoff.pendingSignal.wait()
        if state.hasFailed { return }
        while var filled = handoff.pending.withLock({ $0.removeValue(forKey: expected) }) {
            filled.buffer.withUnsafeBytes { raw in
                var index = 0
                while index < filled.count {
                    let fileEnd = layout.starts[fileIndex] + layout.files[fileIndex].length
                    let take = Int(min(Int64(filled.count - index), fileEnd - (expected + Int64(index))))
                    let digest = current ?? IncrementalDigest(.sha256)
                    digest.update(UnsafeRawBufferPointer(rebasing: raw[index..<(index + take)]))
                    current = digest
                    index += take
                    finishFiles(upTo: expected + Int64(index))
                }
            }
            expected += Int64(filled.count)
            let worker = filled.worker
            handoff.returned[worker].buffers.withLock { list in
                list.append(filled.buffer)
                filled.buffer = []
            }
            handoff.returned[worker].signal.signal()
        }
    }
    finishFiles(upTo: layout.totalSize)
    state.fileSHA256.withLock { $0 = results }
}
