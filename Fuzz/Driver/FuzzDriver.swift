import Glibc

/// libFuzzer's entry for programs with their own `main` (SwiftPM names the
/// executable's entry point itself, so libFuzzer's `main` cannot be used).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The `main` of every fuzz target: built with `-DFUZZING` (and
/// `-sanitize=fuzzer`), it hands the command line to libFuzzer; otherwise it
/// replays the files named on the command line through `testOneInput`, so the
/// committed corpus runs in `make test` without sanitizers.
public enum FuzzDriver {
    public static func main(program: String,
                            _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, testOneInput))
        #else
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let file = fopen(path, "rb") else {
                print("\(program): cannot open \(path)")
                exit(2)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while case let read = fread(&chunk, 1, chunk.count, file), read > 0 { bytes += chunk[0..<read] }
            fclose(file)
            _ = bytes.withUnsafeBufferPointer { testOneInput($0.baseAddress, $0.count) }
            count += 1
        }
        print("\(program): \(count) input(s) replayed, no finding")
        exit(0)
        #endif
    }
}
