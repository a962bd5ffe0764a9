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
        .library(name: "FCFormats", targets: ["FCFormats"]),
        .library(name: "FCCore", targets: ["FCCore"]),
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
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
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

        // Module map (README "Architecture"): each target imports only the ones listed here.
        // The vocabulary every layer shares: tensor names and roles, activations, losses,
        // the tensor value, atomic file writes. No dependencies.
        .target(name: "FCCore"),
        .target(name: "FCNet", dependencies: ["FCCore", "COpenBLAS", "CKernels"]),
        // Model-file formats (safetensors, npz/npy/zip, onnx, json), the file-kind detector
        // and the model-file reader; one strict hostile-input policy. No store, no engine.
        .target(name: "FCFormats", dependencies: ["FCCore"]),
        // The SQLite seam: connection, statements (argument-count and single-statement
        // checks, a statement cache), one blob API, named result codes.
        .target(name: "FCSQLite", dependencies: ["CSQLite"]),
        // The PostgreSQL seam over libpq: connection by URI, binary parameters and
        // results, prepared-statement cache, SQLSTATE errors, password redaction.
        .target(name: "FCPostgres", dependencies: ["CLibPQ"]),
        .target(
            name: "FCStorage",
            dependencies: ["FCCore", "FCSQLite", "CSQLite", "FCPostgres", "CLibCrypto"],
            plugins: ["EmbedMigrations"]
        ),
        // Joins engine, formats and store: run configuration, checkpoint encoding, train,
        // resume, replay, model exchange, diff statistics, training defaults.
        .target(name: "FCTraining", dependencies: ["FCCore", "FCNet", "FCFormats", "FCStorage"]),
        // `fcstore ui`: the read-only dashboard (HTML pages, SVG charts) on Hummingbird;
        // `plot` shares its chart code.
        .target(
            name: "FCDashboard",
            dependencies: [
                "FCCore", "FCFormats", "FCStorage", "FCTraining",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "fcstore",
            dependencies: [
                "FCCore", "FCNet", "FCFormats", "FCStorage", "FCTraining", "FCDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "fcstore-bench",
            dependencies: [
                "FCCore", "FCNet", "FCFormats", "FCStorage", "FCTraining", "FCDashboard", "FCPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // libFuzzer targets (Tests/reliability/fuzz.sh); a corpus replay driver otherwise.
        .executableTarget(name: "FuzzTargets", dependencies: ["FCCore", "FCNet", "FCFormats", "FCStorage"]),

        // What the test targets share: one process runner, one poller, one seeded generator.
        .target(name: "FCTestSupport", path: "Tests/FCTestSupport"),
        .testTarget(name: "FCCoreTests", dependencies: ["FCCore"]),
        .testTarget(name: "FCNetTests", dependencies: ["FCCore", "FCNet", "FCTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FCSQLiteTests", dependencies: ["FCSQLite", "CSQLite"]),
        .testTarget(name: "FCPostgresTests", dependencies: ["FCPostgres"]),
        .testTarget(name: "FCStorageTests", dependencies: ["FCCore", "FCFormats", "FCStorage", "FCSQLite", "CSQLite", "FCPostgres", "FCTestSupport"]),
        .testTarget(name: "FCTrainingTests", dependencies: ["FCCore", "FCNet", "FCFormats", "FCStorage", "FCTraining"]),
        .testTarget(name: "fcstoreTests", dependencies: ["FCCore", "FCFormats", "FCStorage", "FCSQLite", "FCPostgres", "FCTestSupport"]),
        .testTarget(name: "FCDashboardTests", dependencies: ["FCDashboard", "FCCore", "FCFormats", "FCStorage", "FCTraining", "FCNet"]),
    ]
)
