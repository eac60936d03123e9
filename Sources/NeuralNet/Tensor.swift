/// A Float32 tensor over contiguous row-major storage.
///
/// Image batches use NHWC order (`[batch, height, width, channels]`): a convolution then is one
/// matrix product of the im2col patches (rows) with the kernel (columns), the shape the GEMM
/// kernel is fastest on, and flattening keeps each pixel's channels together.
public struct Tensor: Equatable, Sendable {
    public private(set) var shape: [Int]
    public var storage: [Float]

    public init(shape: [Int], storage: [Float]) {
        precondition(shape.reduce(1, *) == storage.count, "tensor shape \(shape) does not match \(storage.count) values")
        self.shape = shape
        self.storage = storage
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        self.storage = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// Storage left uninitialised, for outputs a kernel overwrites entirely.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.storage = [Float](unsafeUninitializedCapacity: shape.reduce(1, *)) { _, n in n = shape.reduce(1, *) }
    }

    public init(repeating value: Float, shape: [Int]) {
        self.shape = shape
        self.storage = [Float](repeating: value, count: shape.reduce(1, *))
    }

    public var count: Int { storage.count }
    /// The size of the first dimension (the batch).
    public var batch: Int { shape.first ?? 0 }
    /// The number of values per batch item.
    public var itemCount: Int { shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1 }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    public subscript(index: Int) -> Float {
        get { storage[index] }
        set { storage[index] = newValue }
    }

    /// The batch items at `indices`, in that order (a mini-batch gather).
    public func gather(_ indices: [Int]) -> Tensor {
        let per = itemCount
        var out = [Float](repeating: 0, count: indices.count * per)
        storage.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (row, index) in indices.enumerated() {
                    (dst.baseAddress! + row * per).update(from: src.baseAddress! + index * per, count: per)
                }
            }
        }
        var s = shape
        s[0] = indices.count
        return Tensor(shape: s, storage: out)
    }
}
