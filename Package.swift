// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "fcstore",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "fcstore", targets: ["fcstore"]),
        .executable(name: "fcstore-fuzz", targets: ["FuzzTargets"]),
        .library(name: "FCTraining", targets: ["FCTraining"]),
        .library(name: "FCNet", targets: ["FCNet"]),
        .library(name: "FCStorage", targets: ["FCStorage"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Already in Hummingbird's graph; named here for the dashboard's logger and channel types.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C seams: a module map and a shim each.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // OpenBLAS is loaded with dlopen after OPENBLAS_CORETYPE is chosen, so the
        // library's constructor sees it; see Sources/COpenBLAS.
        .target(
            name: "COpenBLAS",
            linkerSettings: [.linkedLibrary("dl")]
        ),

        // Embeds migrations/*.sql into FCStorage at build time.
        .executableTarget(name: "MigrationEmbedder"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"],
            path: "Sources/EmbedMigrationsPlugin"
        ),

        // Element-wise kernels (exp, activations, softmax, update) with runtime AVX-512/AVX2 dispatch.
        .target(name: "CKernels"),

        .target(name: "FCNet", dependencies: ["COpenBLAS", "CKernels"]),
        // The SQLite seam: connection, statements (argument-count and single-statement
        // checks, a statement cache), one blob API, named result codes.
        .target(name: "FCSQLite", dependencies: ["CSQLite"]),
        .target(
            name: "FCStorage",
            dependencies: ["FCSQLite", "CSQLite", "CLibCrypto"],
            plugins: ["EmbedMigrations"]
        ),
        // Joins engine and store: run configuration, checkpoint encoding, train and resume.
        .target(name: "FCTraining", dependencies: ["FCNet", "FCStorage"]),
        // `fcstore ui`: the read-only dashboard (HTML pages, SVG charts) on Hummingbird;
        // `plot` shares its chart code.
        .target(
            name: "FCDashboard",
            dependencies: [
                "FCStorage", "FCTraining",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "fcstore",
            dependencies: [
                "FCNet", "FCStorage", "FCTraining", "FCDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "fcstore-bench",
            dependencies: [
                "FCNet", "FCStorage", "FCTraining", "FCDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // libFuzzer targets (Tests/reliability/fuzz.sh); a corpus replay driver otherwise.
        .executableTarget(name: "FuzzTargets", dependencies: ["FCNet", "FCStorage"]),

        // What the test targets share: one process runner, one poller, one seeded generator.
        .target(name: "FCTestSupport", path: "Tests/FCTestSupport"),
        .testTarget(name: "FCNetTests", dependencies: ["FCNet", "FCTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FCSQLiteTests", dependencies: ["FCSQLite", "CSQLite"]),
        .testTarget(name: "FCStorageTests", dependencies: ["FCStorage", "FCSQLite", "CSQLite", "FCTestSupport"]),
        .testTarget(name: "FCTrainingTests", dependencies: ["FCTraining"]),
        .testTarget(name: "fcstoreTests", dependencies: ["FCStorage", "FCSQLite", "FCTestSupport"]),
        .testTarget(name: "FCDashboardTests", dependencies: ["FCDashboard", "FCStorage", "FCTraining", "FCNet"]),
    ]
)
