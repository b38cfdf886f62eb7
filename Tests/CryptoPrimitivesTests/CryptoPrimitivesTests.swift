import CryptoPrimitives
import Testing

struct CryptoPrimitivesTests {
    // FIPS 180 and RFC 7693 test vectors.
    @Test(arguments: [
        (DigestAlgorithm.sha1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (.sha1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (.sha256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ])
    func digestsMatchStandardVectors(algorithm: DigestAlgorithm, input: String, expected: String) {
        #expect(Hex.encode(algorithm.hash(Array(input.utf8))) == expected)
        let incremental = IncrementalDigest(algorithm)
        for byte in input.utf8 { incremental.update([byte]) }
        #expect(Hex.encode(incremental.finalize()) == expected)
    }

    @Test func blake2bMatchesRFC7693() {
        #expect(
            Hex.encode(BLAKE2b.hash(Array("abc".utf8)))
                == "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        )
    }

    @Test func ed25519SignsAndRejectsTampering() throws {
        let pair = Ed25519.KeyPair.generate()
        let message = Array("release-1.2.3.tar.gz".utf8)
        let signature = pair.sign(message)
        #expect(Ed25519.verify(signature: signature, message: message, publicKey: pair.publicKey))
        #expect(!Ed25519.verify(signature: signature, message: message + [0], publicKey: pair.publicKey))
        let other = Ed25519.KeyPair.generate()
        #expect(!Ed25519.verify(signature: signature, message: message, publicKey: other.publicKey))
        let restored = try #require(Ed25519.KeyPair(secretKey: pair.secretKey))
        #expect(restored.publicKey == pair.publicKey)
        #expect(Ed25519.KeyPair(seed: [1, 2, 3]) == nil)
    }

    @Test func keyPairNeverPrintsItsSecret() {
        let pair = Ed25519.KeyPair.generate()
        let secretHex = Hex.encode(pair.secretKey[0..<32])
        var dumped = ""
        dump(pair, to: &dumped)
        for text in [String(describing: pair), String(reflecting: pair), dumped, "\(pair)"] {
            #expect(!text.contains(secretHex))
            #expect(text.contains(Hex.encode(pair.publicKey)))
        }
    }

    @Test func hexRoundTripsAndRejectsGarbage() {
        #expect(Hex.decode("00ffA0") == [0, 255, 160])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.encode([0, 255, 160]) == "00ffa0")
    }
}
