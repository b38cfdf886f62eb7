/// The rules for the name that follows a key in allowlists, `.pub` files and private key files.
///
/// A name is the rest of the line after the key, with leading and trailing spaces and tabs removed. It may contain
/// inner spaces (`build host 3`), must not be empty, must not hold control characters (tabs included) and is at most
/// 200 bytes of UTF-8.
public enum EntryName {
    /// The longest name accepted, in UTF-8 bytes.
    public static let maximumByteCount = 200

    /// Returns nil if `name` is acceptable, else why not.
    public static func problem(with name: String) -> String? {
        if name.isEmpty { return "the name is empty; every entry needs a name, e.g. the host name" }
        if name.utf8.count > maximumByteCount {
            return "the name is \(name.utf8.count) bytes long; the limit is \(maximumByteCount)"
        }
        let isControl: (Unicode.Scalar) -> Bool = { $0.value < 0x20 || (0x7f..<0xa0).contains($0.value) }
        if name.unicodeScalars.contains(where: isControl) {
            return "the name contains a control character (tabs and newlines included); use printable text"
        }
        if name.first == " " || name.last == " " { return "the name starts or ends with a space" }
        return nil
    }

    /// Throws `IdentityError.invalidName` unless `name` is acceptable.
    public static func validate(_ name: String, path: String? = nil) throws(IdentityError) {
        if let problem = problem(with: name) {
            throw IdentityError(.invalidName, path: path, "invalid name \"\(name)\": \(problem)")
        }
    }
}
