import CryptoPrimitives
import Logging
import NIOCore
import NIOPosix
import PeerWire
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A torrent's data on disk: pieces mapped onto files under one save directory.
///
/// - Every blocking call (`open`, `pread`, `pwrite`, `fsync`, SHA-1 over piece data) runs on a `NIOThreadPool`,
///   never on the caller's thread, so the API is `async` and safe to call from event-loop-driven code.
/// - Files are opened once, under the save directory, one path component at a time with `O_NOFOLLOW`; no path
///   component can be `..` and no symlink is followed, so nothing is ever written outside the save directory.
/// - In ``Mode/readWrite`` missing files are created and every file is preallocated to its full length.
/// - A piece becomes part of ``have`` only after its data hashed correctly; a verified piece is never written again.
/// - ``saveResume(to:)`` fsyncs the data before it records a piece as complete, so a crash never leaves a resume file
///   claiming a piece that is not on disk.
///
/// Files are closed when the storage is released.
public final class Storage: Sendable {
    /// Whether the storage may create and write files.
    public enum Mode: Sendable, Hashable {
        /// Create missing files and directories, preallocate, accept writes (a leecher).
        case readWrite
        /// Only read existing files; missing files leave their pieces missing (a seed serving existing data).
        case readOnly
    }

    struct OpenFile: Sendable {
        /// The descriptor, or -1 for a pad file or a file that does not exist (read-only mode).
        let fd: CInt
        /// A second descriptor of the same file opened with `O_DIRECT` (read-write mode, where the file system
        /// supports it), used for aligned writes of whole verified pieces; -1 otherwise.
        var directFD: CInt = -1
        /// Created by this storage (so it holds only zeros until written).
        let created: Bool
        let displayPath: String
    }

    struct State: Sendable {
        var have: Bitfield
        /// Hears of each piece that joins `have` (see ``observeVerifiedPieces(_:)``).
        var verifiedPieceObserver: VerifiedPieceObserver?
        /// How the last ``checkExisting(resume:concurrency:progress:)`` found the pieces.
        var lastCheck: ExistingDataCheck?
    }

    /// The torrent's file and piece layout.
    public let layout: StorageLayout
    /// The save directory.
    public let directory: String
    /// Read-write or read-only.
    public let mode: Mode
    /// How many bytes of a piece are read at a time when hashing; bounds memory for large pieces.
    public let hashChunkLength: Int
    let files: [OpenFile]
    let threadPool: NIOThreadPool
    let logger: Logger
    let state: Mutex<State>
    /// Whole pieces waiting to be hashed and written (``writeVerified(piece:data:on:)``), taken in pairs.
    let verifiedWrites: Mutex<VerifiedWriteQueue>
    /// Whether whole verified pieces are written with `O_DIRECT` where possible.
    public let directWrites: Bool

    /// Opens (in read-write mode: creates and preallocates) the torrent's files under `directory`.
    ///
    /// - Parameters:
    ///   - layout: the torrent's files and pieces.
    ///   - directory: the save directory; a single-file torrent's file is `directory/name`, a multi-file torrent's
    ///     files are `directory/name/...` (the paths in `layout`).
    ///   - mode: read-write (leech) or read-only (seed existing data).
    ///   - threadPool: where the blocking work runs.
    ///   - hashChunkLength: how much of a piece is read at a time when hashing (at least 16 KiB).
    ///   - directWrites: write whole verified pieces with `O_DIRECT` (bypassing the page cache) where the file system
    ///     supports it and the piece is aligned; see ``writeVerified(piece:data:on:)``.
    ///   - logger: for what is worth knowing (resume data rejected and why).
    /// - Throws: ``EngineError``: `unsafePath` when a path component on disk is a symlink or not a directory,
    ///   `io` when a file cannot be opened, created or preallocated.
    public init(
        layout: StorageLayout,
        directory: String,
        mode: Mode = .readWrite,
        threadPool: NIOThreadPool = .singleton,
        hashChunkLength: Int = 1 << 20,
        directWrites: Bool = true,
        logger: Logger
    ) async throws {
        self.layout = layout
        self.directory = directory
        self.mode = mode
        self.threadPool = threadPool
        self.hashChunkLength = max(hashChunkLength, 16 * 1024)
        self.logger = logger
        self.state = Mutex(State(have: Bitfield(count: layout.pieceCount)))
        self.verifiedWrites = Mutex(VerifiedWriteQueue())
        self.directWrites = directWrites && mode == .readWrite
        let direct = self.directWrites
        self.files = try await threadPool.runIfActive {
            try Self.openFiles(layout: layout, directory: directory, mode: mode, direct: direct)
        }
    }

    deinit {
        for file in files {
            if file.fd >= 0 { close(file.fd) }
            if file.directFD >= 0 { close(file.directFD) }
        }
    }

    private static func openFiles(
        layout: StorageLayout, directory: String, mode: Mode, direct: Bool
    ) throws -> [OpenFile] {
        let create = mode == .readWrite
        let root = try FileSystem.openRootDirectory(directory, create: create)
        defer { close(root) }
        let rootResolved = FileSystem.resolvedPath(of: root)
        var opened: [OpenFile] = []
        opened.reserveCapacity(layout.files.count)
        do {
            for file in layout.files {
                let shown = file.displayPath
                if file.isPadFile {
                    opened.append(OpenFile(fd: -1, created: false, displayPath: shown))
                    continue
                }
                guard
                    let (fd, created) = try FileSystem.openUnder(
                        root: root,
                        components: file.path,
                        create: create,
                        displayPath: "\(directory)/\(shown)"
                    )
                else {
                    opened.append(OpenFile(fd: -1, created: false, displayPath: shown))
                    continue
                }
                opened.append(
                    OpenFile(fd: fd, directFD: direct ? FileSystem.reopenDirect(fd) : -1, created: created,
                        displayPath: shown))
                // Belt and braces: the kernel's own idea of where the file is must be under the save directory.
                if let rootResolved, let resolved = FileSystem.resolvedPath(of: fd) {
                    let prefix = rootResolved.hasSuffix("/") ? rootResolved : rootResolved + "/"
                    guard resolved.hasPrefix(prefix) else {
                        throw EngineError(.unsafePath, "\(shown) resolved to \(resolved), outside \(rootResolved)")
                    }
                }
                if create {
                    try FileSystem.preallocate(fd, length: file.length, displayPath: "\(directory)/\(shown)")
                }
            }
        } catch {
            for file in opened {
                if file.fd >= 0 { close(file.fd) }
                if file.directFD >= 0 { close(file.directFD) }
            }
            throw error
        }
        return opened
    }

    /// The pieces verified so far (by ``verify(piece:)``, ``checkExisting(resume:progress:)`` or resume data).
    public var have: Bitfield {
        state.withLock { $0.have }
    }

    /// Whether every piece is verified.
    public var isComplete: Bool {
        state.withLock { $0.have.isComplete }
    }

    /// How the last ``checkExisting(resume:concurrency:progress:)`` found the pieces (nil before one ran).
    public var lastCheck: ExistingDataCheck? {
        state.withLock { $0.lastCheck }
    }

    // MARK: - Blocks

    /// Writes a block of piece data.
    ///
    /// - Parameters:
    ///   - piece: the piece index.
    ///   - begin: the offset inside the piece.
    ///   - bytes: the block; its readable bytes are written.
    /// - Throws: ``EngineError``: `readOnly`, `outOfRange` for a block outside the piece, `pieceAlreadyComplete` for
    ///   a verified piece (its data is left untouched), `io` when the write fails.
    public func write(piece: Int, begin: Int, bytes: ByteBuffer) async throws {
        try await threadPool.runIfActive(try writeJob(piece: piece, begin: begin, bytes: bytes))
    }

    /// ``write(piece:begin:bytes:)`` for event-loop code: no `Task` per block, the result arrives on `eventLoop`.
    public func write(piece: Int, begin: Int, bytes: ByteBuffer, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        do {
            return threadPool.runIfActive(eventLoop: eventLoop, try writeJob(piece: piece, begin: begin, bytes: bytes))
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    private func writeJob(piece: Int, begin: Int, bytes: ByteBuffer) throws(EngineError) -> @Sendable () throws -> Void
    {
        guard mode == .readWrite else {
            throw EngineError(.readOnly, "piece \(piece): \(directory) is opened read-only")
        }
        try checkRange(piece: piece, begin: begin, length: bytes.readableBytes)
        if state.withLock({ $0.have[piece] }) {
            throw EngineError(.pieceAlreadyComplete, "piece \(piece) is already verified; block at \(begin) dropped")
        }
        let spans = layout.spans(piece: piece, begin: begin, length: bytes.readableBytes)
        // The job holds the storage, so its descriptors stay open until the job has run.
        return { [self] in
            let files = self.files
            let directory = self.directory
            try bytes.withUnsafeReadableBytes { raw in
                for span in spans where files[span.file].fd >= 0 {
                    try FileSystem.writeAll(
                        files[span.file].fd,
                        UnsafeRawBufferPointer(rebasing: raw[span.rangeOffset..<span.rangeOffset + span.length]),
                        at: span.fileOffset,
                        displayPath: "\(directory)/\(files[span.file].displayPath)"
                    )
                }
            }
        }
    }

    /// Reads a block of piece data.
    ///
    /// Pad-file bytes read as zeros.
    ///
    /// - Throws: ``EngineError``: `outOfRange`, or `io` when a file is missing, shorter than the torrent says, or
    ///   the read fails.
    public func read(piece: Int, begin: Int, length: Int) async throws -> ByteBuffer {
        try await threadPool.runIfActive(try readJob(piece: piece, begin: begin, length: length))
    }

    /// ``read(piece:begin:length:)`` for event-loop code: no `Task` per block, the result arrives on `eventLoop`.
    public func read(piece: Int, begin: Int, length: Int, on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        do {
            return threadPool.runIfActive(eventLoop: eventLoop, try readJob(piece: piece, begin: begin, length: length))
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// ``read(piece:begin:length:on:)`` into a buffer the caller reuses (its contents are replaced), so reads cost
    /// no allocation and no page faults. Hand over the only reference to its storage, or it is copied.
    public func read(
        piece: Int, begin: Int, length: Int, into buffer: consuming ByteBuffer, on eventLoop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer> {
        // `consuming`, and moved into the handoff: a borrowed argument would stay referenced by the caller until this
        // returns, and a job that starts before then would find the storage shared and copy it on write.
        let handoff = BufferHandoff(consume buffer)
        do {
            let job = try readJob(piece: piece, begin: begin, length: length, into: handoff)
            // The filled buffer comes back through the handoff, not as the pool job's result: the thread pool keeps
            // its last job (and so that job's future and value) until it takes the next one, and a reference held
            // there would make the caller's next reuse of the buffer a copy-on-write into freshly mapped pages.
            return threadPool.runIfActive(eventLoop: eventLoop) { handoff.put(try job()) }.flatMapThrowing {
                guard let filled = handoff.take() else {
                    throw EngineError(.storage, "piece \(piece): the read buffer did not come back from the thread pool")
                }
                return filled
            }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    private func readJob(
        piece: Int, begin: Int, length: Int, into reused: BufferHandoff? = nil
    ) throws(EngineError) -> @Sendable () throws -> ByteBuffer {
        try checkRange(piece: piece, begin: begin, length: length)
        let spans = layout.spans(piece: piece, begin: begin, length: length)
        return { [self] in
            let files = self.files
            let layout = self.layout
            let directory = self.directory
            var buffer = reused?.take() ?? ByteBufferAllocator().buffer(capacity: length)
            buffer.clear()
            try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
                let target = UnsafeMutableRawBufferPointer(rebasing: raw[0..<length])
                try Self.readSpans(spans, into: target, files: files, layout: layout, directory: directory)
                return length
            }
            return buffer
        }
    }

    /// Reads spans into `target` (which has the spans' total length). Throws `io` for short or missing data.
    static func readSpans(
        _ spans: [StorageLayout.Span],
        into target: UnsafeMutableRawBufferPointer,
        files: [OpenFile],
        layout: StorageLayout,
        directory: String
    ) throws(EngineError) {
        for span in spans {
            let part = UnsafeMutableRawBufferPointer(
                rebasing: target[span.rangeOffset..<span.rangeOffset + span.length]
            )
            let file = files[span.file]
            if layout.files[span.file].isPadFile {
                part.initializeMemory(as: UInt8.self, repeating: 0)
                continue
            }
            guard file.fd >= 0 else {
                throw EngineError(.io, "\(directory)/\(file.displayPath) does not exist", errno: ENOENT)
            }
            let count = try FileSystem.readAll(file.fd, part, at: span.fileOffset, displayPath: file.displayPath)
            guard count == span.length else {
                throw EngineError(
                    .io,
                    "\(directory)/\(file.displayPath) ends before byte \(span.fileOffset + Int64(span.length)); "
                        + "it is shorter than the torrent says"
                )
            }
        }
    }

    func checkRange(piece: Int, begin: Int, length: Int) throws(EngineError) {
        guard piece >= 0 && piece < layout.pieceCount else {
            throw EngineError(.outOfRange, "piece \(piece) is not in the torrent's 0..<\(layout.pieceCount)")
        }
        let size = layout.pieceSize(piece)
        guard begin >= 0, length >= 0, begin <= size, length <= size - begin else {
            throw EngineError(.outOfRange, "\(length) bytes at \(begin) do not fit in piece \(piece) of \(size) bytes")
        }
    }

    // MARK: - Verification

    /// Hashes piece `piece` as it is on disk and compares it with the torrent's SHA-1. On a match the piece joins
    /// ``have`` and is never written again.
    ///
    /// The piece is read and hashed ``hashChunkLength`` bytes at a time on the thread pool, so memory stays bounded
    /// for any piece size.
    ///
    /// - Returns: true when the data matches, false when it does not (or is not all on disk).
    /// - Throws: ``EngineError``: `outOfRange`, or `io` when reading fails for a reason other than missing data.
    public func verify(piece: Int) async throws -> Bool {
        try checkRange(piece: piece, begin: 0, length: 0)
        return try await threadPool.runIfActive(verifyJob(piece: piece))
    }

    /// ``verify(piece:)`` for event-loop code; the result arrives on `eventLoop`.
    public func verify(piece: Int, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        do {
            try checkRange(piece: piece, begin: 0, length: 0)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return threadPool.runIfActive(eventLoop: eventLoop, verifyJob(piece: piece))
    }

    /// Hashes the piece and, on a match, adds it to `have` (on the pool thread, before the caller hears of it).
    private func verifyJob(piece: Int) -> @Sendable () throws -> Bool {
        let hash = hashJob(piece: piece)
        return { [self] in
            let matches = try hash()
            if matches {
                let (added, observer) = self.state.withLock { ($0.have.insert(piece), $0.verifiedPieceObserver) }
                if added { observer?(piece, nil) }
            }
            return matches
        }
    }

    func hashMatches(piece: Int) async throws -> Bool {
        try await threadPool.runIfActive(hashJob(piece: piece))
    }

    private func hashJob(piece: Int) -> @Sendable () throws -> Bool {
        { [self] in
            let files = self.files
            let layout = self.layout
            let directory = self.directory
            let chunk = self.hashChunkLength
            let size = layout.pieceSize(piece)
            let digest = IncrementalDigest(.sha1)
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: min(chunk, size), alignment: 16)
            defer { scratch.deallocate() }
            var offset = 0
            while offset < size {
                let length = min(chunk, size - offset)
                let spans = layout.spans(piece: piece, begin: offset, length: length)
                let target = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<length])
                do {
                    try Self.readSpans(spans, into: target, files: files, layout: layout, directory: directory)
                } catch let error as EngineError
                    where error.code == .io && (error.errno == nil || error.errno == ENOENT)
                {
                    return false  // missing or short file: the data is not there
                }
                digest.update(UnsafeRawBufferPointer(target))
                offset += length
            }
            return digest.finalize().elementsEqual(layout.pieceHash(piece))
        }
    }

    /// Finds which pieces are already on disk, so a restart does not download them again.
    ///
    /// When `resume` names a resume file (written by ``saveResume(to:)``) that belongs to this torrent and whose
    /// recorded file sizes and modification times all match the files now, its pieces are trusted without reading
    /// the data. Otherwise (no file, malformed, other torrent, files changed; the reason is logged) every piece that
    /// could be on disk is hashed, up to `concurrency` pieces at a time on the thread pool. Pieces that lie in a
    /// file this storage just created, or in a missing file, are not read: they cannot be there. ``lastCheck`` tells
    /// afterwards which way it went (and why a resume file was not used).
    ///
    /// - Parameters:
    ///   - resume: the resume file path, or nil.
    ///   - concurrency: how many pieces are hashed at once (default: the core count).
    ///   - progress: called with (pieces checked, pieces to check) as hashing goes.
    /// - Returns: the verified pieces, also stored as ``have``.
    public func checkExisting(
        resume: String? = nil,
        concurrency: Int = System.coreCount,
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> Bitfield {
        var rejection: String?
        if let resume {
            do {
                if let trusted = try await loadResume(from: resume) {
                    state.withLock {
                        $0.have = trusted
                        $0.lastCheck = ExistingDataCheck(
                            usedResume: true, resumeRejection: nil, piecesHashed: 0, bytesHashed: 0)
                    }
                    return trusted
                }
            } catch let error as EngineError where error.code == .resumeRejected {
                rejection = error.context
                logger.info(
                    "resume data not used; checking the data instead",
                    metadata: ["resume": "\(resume)", "reason": "\(error.context)"]
                )
            }
        }
        var candidates: [Int] = []
        for piece in 0..<layout.pieceCount {
            let spans = layout.spans(piece: piece, begin: 0, length: layout.pieceSize(piece))
            let impossible = spans.contains { span in
                let file = files[span.file]
                return !layout.files[span.file].isPadFile && (file.fd < 0 || file.created)
            }
            if !impossible { candidates.append(piece) }
        }
        let total = candidates.count
        progress(0, total)
        var found = Bitfield(count: layout.pieceCount)
        try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            var next = 0
            var done = 0
            let width = max(1, concurrency)
            while next < candidates.count && next < width {
                let piece = candidates[next]
                group.addTask { (piece, try await self.hashMatches(piece: piece)) }
                next += 1
            }
            while let (piece, matches) = try await group.next() {
                if matches { found.insert(piece) }
                done += 1
                progress(done, total)
                if next < candidates.count {
                    let piece = candidates[next]
                    group.addTask { (piece, try await self.hashMatches(piece: piece)) }
                    next += 1
                }
            }
        }
        let result = found
        let bytes = candidates.reduce(Int64(0)) { $0 + Int64(layout.pieceSize($1)) }
        state.withLock {
            $0.have = result
            $0.lastCheck = ExistingDataCheck(
                usedResume: false, resumeRejection: rejection, piecesHashed: total, bytesHashed: bytes)
        }
        return result
    }

    // MARK: - Durability and resume data

    /// Flushes every written file to stable storage (`fsync`).
    public func sync() async throws {
        guard mode == .readWrite else { return }
        let files = self.files
        let directory = self.directory
        try await threadPool.runIfActive {
            for file in files where file.fd >= 0 {
                try FileSystem.sync(file.fd, displayPath: "\(directory)/\(file.displayPath)")
            }
        }
    }

    /// Records which pieces are verified, so that the next start can skip hashing them.
    ///
    /// Order of operations (so a crash never leaves a resume file that claims a piece not on disk): take the set of
    /// verified pieces, fsync every file, then write the resume file atomically (temporary file, fsync, rename,
    /// fsync of the directory). Writes made after this call change the files' modification times, which makes the
    /// resume file stale: the next start then hashes the data instead of trusting it. Format: `Docs/peer-wire.md`.
    ///
    /// - Parameter path: where to write the resume file; a temporary `path.tmp` is used on the way.
    /// - Throws: ``EngineError`` with code `io`.
    public func saveResume(to path: String) async throws {
        let snapshot = have
        try await sync()
        let files = self.files
        let layout = self.layout
        let directory = self.directory
        try await threadPool.runIfActive {
            var entries: [ResumeData.FileEntry] = []
            for (index, file) in files.enumerated() where !layout.files[index].isPadFile {
                if file.fd < 0 {
                    entries.append(.init(path: layout.files[index].path, size: -1, modified: 0))
                } else {
                    let (size, modified) = try FileSystem.sizeAndModificationTime(
                        file.fd,
                        displayPath: "\(directory)/\(file.displayPath)"
                    )
                    entries.append(.init(path: layout.files[index].path, size: size, modified: modified))
                }
            }
            let bytes = ResumeData(
                infoHash: layout.infoHash,
                pieceLength: layout.pieceLength,
                pieces: snapshot,
                files: entries
            ).encoded()
            try FileSystem.writeAtomically(bytes, to: path)
        }
    }

    /// Reads a resume file and checks it against this torrent and the files on disk.
    ///
    /// - Returns: the pieces it records, or nil when there is no resume file.
    /// - Throws: ``EngineError`` with code `resumeRejected` (and why) when it cannot be trusted.
    func loadResume(from path: String) async throws -> Bitfield? {
        let files = self.files
        let layout = self.layout
        let directory = self.directory
        return try await threadPool.runIfActive { () throws -> Bitfield? in
            guard let bytes = try FileSystem.readSmallFile(path, limit: ResumeData.maximumSize(layout: layout)) else {
                return nil
            }
            let resume = try ResumeData(decoding: bytes, path: path)
            guard resume.infoHash == layout.infoHash else {
                throw EngineError(.resumeRejected, "\(path) belongs to another torrent")
            }
            guard resume.pieceLength == layout.pieceLength, resume.pieces.count == layout.pieceCount else {
                throw EngineError(.resumeRejected, "\(path) describes other pieces than this torrent's")
            }
            let current = files.indices.filter { !layout.files[$0].isPadFile }
            guard resume.files.count == current.count else {
                throw EngineError(
                    .resumeRejected,
                    "\(path) lists \(resume.files.count) files, the torrent has \(current.count)"
                )
            }
            for (entry, index) in zip(resume.files, current) {
                let file = files[index]
                guard entry.path == layout.files[index].path else {
                    throw EngineError(.resumeRejected, "\(path) lists other files than the torrent")
                }
                let (size, modified): (Int64, Int64) =
                    file.fd < 0
                    ? (-1, 0)
                    : try FileSystem.sizeAndModificationTime(file.fd, displayPath: "\(directory)/\(file.displayPath)")
                guard size == entry.size, modified == entry.modified else {
                    throw EngineError(
                        .resumeRejected,
                        "\(file.displayPath) changed since \(path) was written (size \(entry.size) -> \(size), "
                            + "mtime \(entry.modified) -> \(modified))"
                    )
                }
            }
            return resume.pieces
        }
    }
}

extension Storage {
    /// The 20-byte SHA-1 of piece `piece` from the layout.
    public func expectedHash(of piece: Int) -> [UInt8] { Array(layout.pieceHash(piece)) }
}

/// Hands a `ByteBuffer` to a job on another thread without keeping a second reference to its storage (which would
/// make the job's first write copy it).
final class BufferHandoff: Sendable {
    private let slot: Mutex<ByteBuffer?>

    init(_ buffer: ByteBuffer) { slot = Mutex(buffer) }

    /// The buffer it holds (nil afterwards, until ``put(_:)``): the caller's buffer into the job, then the job's
    /// result back.
    func take() -> ByteBuffer? { slot.withLock { $0.take() } }

    /// Hands a buffer back the other way (the job's result; the slot is empty then).
    func put(_ buffer: ByteBuffer) { slot.withLock { $0 = buffer } }
}
