/// What a request's `Range` header asks of a representation of `size` bytes (RFC 9110 §14), as the mirror server
/// answers it: one range is served as `206 Partial Content`; several ranges are served as the whole representation
/// (`200`, no multipart/byteranges: web seeds and caches ask for one range at a time); a header that is not a
/// `bytes=` range set is ignored (`200`, as RFC 9110 §14.2 allows); a range set none of whose ranges overlaps the
/// content is `416` with `Content-Range: bytes */size`.
public enum ByteRangeRequest: Sendable, Hashable {
    /// No range, an unparseable one, or several: the whole representation.
    case whole
    /// One satisfiable range: these bytes.
    case partial(ClosedRange<Int64>)
    /// No range of the set overlaps the content.
    case unsatisfiable

    /// The longest `Range` header looked at; a longer one is ignored (served whole).
    public static let maximumHeaderLength = 1024

    /// - Parameters:
    ///   - header: the `Range` field's value, nil when absent.
    ///   - size: the representation's length.
    public init(header: String?, size: Int64) {
        guard let header, header.utf8.count <= Self.maximumHeaderLength else {
            self = .whole
            return
        }
        let trimmed = header.trimmingSpaces
        guard trimmed.lowercased().hasPrefix("bytes=") else {
            self = .whole
            return
        }
        let specs = trimmed.dropFirst("bytes=".count).split(separator: ",", omittingEmptySubsequences: false)
        var satisfiable: [ClosedRange<Int64>] = []
        var emptySuffix = false
        for spec in specs {
            guard let range = Self.parse(Substring(spec.trimmingSpaces)) else {
                // One malformed range makes the whole header invalid: ignore it.
                self = .whole
                return
            }
            if let resolved = Self.resolve(range, size: size) { satisfiable.append(resolved) }
            if size == 0, case .suffix(let count) = range, count > 0 { emptySuffix = true }
        }
        if emptySuffix {
            // RFC 9110 §14.1.1: of an empty representation, a non-zero suffix range is satisfiable, yet no
            // Content-Range can name its bytes: the whole (empty) file, 200.
            self = .whole
        } else if satisfiable.isEmpty {
            self = .unsatisfiable
        } else if satisfiable.count == 1, specs.count == 1 {
            self = .partial(satisfiable[0])
        } else {
            self = .whole
        }
    }

    private enum Spec {
        /// `a-b` or `a-`.
        case from(Int64, through: Int64?)
        /// `-n`.
        case suffix(Int64)
    }

    private static func parse(_ text: Substring) -> Spec? {
        guard let dash = text.firstIndex(of: "-") else { return nil }
        let first = text[..<dash]
        let last = text[text.index(after: dash)...]
        func number(_ digits: Substring) -> Int64? {
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                return nil
            }
            return Int64(digits)
        }
        if first.isEmpty {
            return number(last).map { .suffix($0) }
        }
        guard let start = number(first) else { return nil }
        if last.isEmpty { return .from(start, through: nil) }
        guard let end = number(last), end >= start else { return nil }
        return .from(start, through: end)
    }

    private static func resolve(_ spec: Spec, size: Int64) -> ClosedRange<Int64>? {
        switch spec {
        case .from(let start, let end):
            guard start < size else { return nil }
            return start...min(end ?? (size - 1), size - 1)
        case .suffix(let count):
            guard count > 0, size > 0 else { return nil }
            return max(0, size - count)...(size - 1)
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingSpaces: Substring {
        let text = Substring(self)
        guard let first = text.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = text.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return text[first...last]
    }
}
