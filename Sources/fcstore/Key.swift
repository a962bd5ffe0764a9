import ArgumentParser
import FCStorage
import Foundation

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage the Ed25519 key that signs run heads.",
        discussion: """
            train, resume and rm sign each run head they write with the key in $FCSTORE_KEY, \
            else ~/.config/fcstore/key.pem when it exists. 'fcstore verify --trusted-keys FILE' \
            checks the signatures against the public keys in FILE.
            """,
        subcommands: [New.self])

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new",
            abstract: "Create a signing key (mode 0600) and print its public key.",
            discussion: """
                Writes the private key as PEM (PKCS#8) to FILE with mode 0600 and the public key \
                to FILE.pub; never replaces an existing file. Prints the public key \
                (ed25519:<hex>) on stdout: add that line to the trusted keys file of whoever verifies.
                """)

        @Option(help: ArgumentHelp("Where to write the key (default: $FCSTORE_KEY, else ~/.config/fcstore/key.pem).",
                                   valueName: "file"))
        var output: String?

        func run() throws {
            let path = output ?? SigningKeys.defaultPath
            let key = try SigningKey.generate()
            try key.write(to: path)
            Console.out(key.publicKey.text)
            Console.err("wrote \(path) (private key, mode 0600) and \(path).pub; fingerprint \(key.publicKey.fingerprint)")
        }
    }
}
