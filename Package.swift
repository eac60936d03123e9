// swift-tools-version:6.1
import PackageDescription

/// Release builds target this machine's vector units (AVX2 / AVX-512): the codecs' pixel
/// loops and, later, the trainer's kernels only vectorise for the CPU they are compiled for.
/// `CURATE_TARGET_CPU` overrides the choice (for example `haswell` for a portable binary).
let targetCPU = Context.environment["CURATE_TARGET_CPU"] ?? "native"
let fastSwift: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", targetCPU], .when(configuration: .release)),
]
let fastC: [CSetting] = [
    .unsafeFlags(["-march=\(targetCPU)", "-O3"], .when(configuration: .release)),
]

let package = Package(
    name: "Curate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "curate", targets: ["curate"]),
        .library(name: "ImageCodecs", targets: ["ImageCodecs"]),
        .library(name: "DatasetCatalog", targets: ["DatasetCatalog"]),
        .library(name: "NeuralNet", targets: ["NeuralNet"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Features", targets: ["Features"]),
        .library(name: "Audit", targets: ["Audit"]),
        .library(name: "Curation", targets: ["Curation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // System libraries, declared with the packages that install them.
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The only C code of the project: it owns every setjmp/longjmp, so that no libpng or
        // libjpeg error ever unwinds through a Swift frame.
        .target(name: "CCodecShims", dependencies: ["CPNG", "CJPEG", "CZlib"], cSettings: fastC),

        .target(
            name: "ImageCodecs",
            dependencies: ["CCodecShims", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: fastSwift),

        .target(
            name: "DatasetCatalog",
            dependencies: ["ImageCodecs", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: fastSwift),

        // The trainer's library: tensors, the GEMM kernel, layers, optimizers, checkpoints.
        // It knows nothing about images or manifests. Swift 5 mode: its kernels hand raw
        // buffers to worker threads, each writing a disjoint part, which strict Sendable
        // checking cannot see.
        .target(name: "NeuralNet", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: fastSwift + [.swiftLanguageMode(.v5)]),

        // Dataset audits: counts, intervals, association, parity, reweighing, image statistics, findings, reports.
        .target(name: "Audit", dependencies: ["DatasetCatalog", "ImageCodecs", "Features", "Training", "NeuralNet"], swiftSettings: fastSwift),

        // Curation strategies, splits and their provenance.
        .target(name: "Curation", dependencies: ["DatasetCatalog", "ImageCodecs", "NeuralNet", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: fastSwift),

        // Experiments: manifests (YAML), the matrix runner, aggregation and reports.
        .target(name: "Experiments", dependencies: ["Training", "Curation", "Audit", "NeuralNet", "DatasetCatalog", "ImageCodecs",
                                                    .product(name: "Yams", package: "Yams")], swiftSettings: fastSwift),

        // Training from manifests: the data pipeline, transfer modes, robust losses, evaluation.
        .target(name: "Features", dependencies: ["DatasetCatalog"], swiftSettings: fastSwift),

        .target(name: "Training", dependencies: ["NeuralNet", "ImageCodecs", "DatasetCatalog", "Features"], swiftSettings: fastSwift),

        .executableTarget(
            name: "curate",
            dependencies: ["ImageCodecs", "DatasetCatalog", "NeuralNet", "Features", "Training", "Audit", "Curation", "Experiments", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: fastSwift),

        .testTarget(name: "ImageCodecsTests", dependencies: ["ImageCodecs", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "DatasetCatalogTests", dependencies: ["DatasetCatalog", "ImageCodecs", .product(name: "Crypto", package: "swift-crypto"),
                                                              .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "NeuralNet", "DatasetCatalog", "ImageCodecs", "Features"]),
        .testTarget(name: "AuditTests", dependencies: ["Audit", "DatasetCatalog", "Features"]),
        .testTarget(name: "FeaturesTests", dependencies: ["Features", "Training", "Audit", "NeuralNet", "DatasetCatalog"]),
        .testTarget(name: "CurationTests", dependencies: ["Curation", "DatasetCatalog"]),
        .testTarget(name: "CurateCLITests", dependencies: ["ImageCodecs", "DatasetCatalog", "Experiments"]),
    ]
)
