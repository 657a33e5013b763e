/**
 * The system BLAS through Deno's FFI: OpenBLAS's `cblas_sgemm` for every product of the cpu
 * backend. The library is looked up by soname (or at `LIKELIHOOD_BLAS`, a path), loaded once,
 * and kept for the life of the process; when it cannot be loaded `loadBlas()` says why.
 */

/** Row-major products C = α op(A) op(B) + β C with the operands' leading dimensions. */
export interface Blas {
  /** the kernel family OpenBLAS chose for this CPU, e.g. "Haswell", "SkylakeX" */
  core: string;
  /** where the library was found */
  path: string;
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
  threads(): number;
  setThreads(n: number): void;
}

/** The line that installs OpenBLAS, per operating system. */
export const BLAS_INSTALL_HINT = Deno.build.os === "darwin"
  ? "brew install openblas, then LIKELIHOOD_BLAS=$(brew --prefix openblas)/lib/libopenblas.dylib"
  : Deno.build.os === "windows"
  ? "download OpenBLAS and set LIKELIHOOD_BLAS to the path of libopenblas.dll"
  : "apt-get install libopenblas0-pthread (Debian, Ubuntu) or dnf install openblas (Fedora)";

const CANDIDATES: Record<string, string[]> = {
  linux: ["libopenblas.so.0", "libopenblas.so"],
  darwin: [
    "libopenblas.dylib",
    "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
    "/usr/local/opt/openblas/lib/libopenblas.dylib",
  ],
  windows: ["libopenblas.dll", "openblas.dll"],
};

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // layout
      "i32", // transA
      "i32", // transB
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_get_corename: { parameters: [], result: "pointer" },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
} as const;

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

let loaded: { blas: Blas } | { error: string } | undefined;

/** OpenBLAS, or the reason it could not be loaded (missing library, no --allow-ffi). */
export function loadBlas(): { blas: Blas } | { error: string } {
  return loaded ??= tryLoad();
}

/**
 * OpenBLAS's idle threads spin for 2^28 cycles (about 0.15 s of CPU after the last product,
 * measured) before they sleep; at 2^4 they sleep at once. Interleaved unet28 training steps
 * showed no difference beyond the machine's noise (1633 / 2176 / 1810 ms spinning against
 * 1774 / 1774 / 1658 ms not), so the cpu backend leaves the cores to the rest of the process
 * unless OPENBLAS_THREAD_TIMEOUT says otherwise. The library reads it when it loads.
 */
const QUIET_THREAD_TIMEOUT = "4";

function tryLoad(): { blas: Blas } | { error: string } {
  try {
    if (Deno.env.get("OPENBLAS_THREAD_TIMEOUT") === undefined) {
      Deno.env.set("OPENBLAS_THREAD_TIMEOUT", QUIET_THREAD_TIMEOUT);
    }
  } catch {
    // without --allow-env OpenBLAS keeps its own default
  }
  const override = Deno.env.get("LIKELIHOOD_BLAS");
  const paths = override ? [override] : CANDIDATES[Deno.build.os] ?? CANDIDATES.linux;
  const failures: string[] = [];
  for (const path of paths) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(path, SYMBOLS);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        return { error: "loading BLAS needs --allow-ffi" };
      }
      failures.push(`${path}: ${(e as Error).message.split("\n")[0]}`);
      continue;
    }
    return { blas: wrap(lib, path) };
  }
  return {
    error: `no OpenBLAS library could be loaded (${
      failures.join("; ")
    }); install it: ${BLAS_INSTALL_HINT}`,
  };
}

function wrap(lib: Deno.DynamicLibrary<typeof SYMBOLS>, path: string): Blas {
  const s = lib.symbols;
  const name = s.openblas_get_corename();
  const core = name ? new Deno.UnsafePointerView(name).getCString() : "unknown";
  return {
    core,
    path,
    sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      s.cblas_sgemm(
        ROW_MAJOR,
        transA ? TRANS : NO_TRANS,
        transB ? TRANS : NO_TRANS,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
      );
    },
    threads: () => s.openblas_get_num_threads(),
    setThreads: (n) => s.openblas_set_num_threads(n),
  };
}
