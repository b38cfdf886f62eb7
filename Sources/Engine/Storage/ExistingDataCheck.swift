/// How ``Storage/checkExisting(resume:concurrency:progress:)`` found the pieces on disk: from resume data without
/// reading the data, or by hashing it (and then why the resume data was not used). The seed daemon reports it.
public struct ExistingDataCheck: Sendable, Hashable {
    /// The resume file was trusted: its recorded file sizes and modification times match the files.
    public var usedResume: Bool
    /// Why a resume file that exists was not trusted (a file changed size or mtime, another torrent, malformed).
    public var resumeRejection: String?
    /// Pieces hashed (0 when the resume file was used).
    public var piecesHashed: Int
    /// Bytes of data read to hash them.
    public var bytesHashed: Int64
}
