/**
 * Every limit in atfed, in one place. Units come last in names. The producer
 * (PDS) checks these before it commits; the verifier (relay, consumers)
 * checks the same constants when it receives.
 */

// Data model (atproto data-model spec and validation guide)
export const CBOR_DEPTH_MAX = 32
export const CBOR_CONTAINER_LENGTH_MAX = 131_072
export const CBOR_MAP_KEY_BYTES_MAX = 8_192
export const CID_BYTES_MAX = 100
export const RECORD_BYTES_MAX = 1_048_576
export const RECORD_BLOCK_BYTES_MAX = 1_000_000
export const RECORD_JSON_BYTES_MAX = 2_097_152

// Repository / MST
export const MST_KEY_BYTES_MAX = 1_024
export const RECORD_KEY_LENGTH_MAX = 512
export const MST_NODE_ENTRIES_MAX = 2_048
export const MST_DEPTH_MAX = 64
export const COMMIT_OPS_MAX = 200
export const REPO_VERSION = 3
export const FUTURE_REV_TOLERANCE_MS = 5 * 60 * 1000

// CAR
export const CAR_HEADER_BYTES_MAX = 1_024
export const CAR_BLOCK_BYTES_MAX = 2_097_152
export const CAR_ROOTS_MAX = 1

// Firehose (sync spec)
export const FRAME_BYTES_MAX = 5_000_000
export const COMMIT_BLOCKS_BYTES_MAX = 2_000_000

// Syntax
export const DID_LENGTH_MAX = 2_048
export const HANDLE_LENGTH_MAX = 253
export const NSID_LENGTH_MAX = 317
export const AT_URI_BYTES_MAX = 8_192

// Crypto (core/crypto)
/** Longest multibase key text accepted before base58 decoding (35-byte multikey ≈ 49 chars; legacy 65-byte ≈ 90). */
export const MULTIKEY_LENGTH_MAX = 128
/** Parsed verification keys (did:key → prepared verifier) kept by verifySignature; a P-256 miss costs ~150 µs. */
export const VERIFY_KEY_CACHE_ENTRIES_MAX = 20_000

// Identifier syntax (core/syntax/; atproto identifier specs + lexicon string formats)
export const HANDLE_LABEL_LENGTH_MAX = 63
export const NSID_SEGMENT_LENGTH_MAX = 63
export const PLC_DID_ID_LENGTH = 24
export const TID_LENGTH = 13
export const DATETIME_LENGTH_MAX = 64
export const LANGUAGE_LENGTH_MAX = 1_024
export const CID_STRING_LENGTH_MIN = 8
export const CID_STRING_LENGTH_MAX = 256
export const URI_BYTES_MAX = 8_192

// CAR files and the block store (core/repo/car/, core/repo/block-store.ts)
/** A CAR varint never needs more than 8 bytes: every length we accept is < 2^53. */
export const CAR_VARINT_BYTES_MAX = 8
/** The streaming CAR writer packs small sections into chunks of this size. */
export const CAR_WRITE_CHUNK_BYTES = 65_536
/** The streaming CAR reader yields to the event loop after this many blocks. */
export const CAR_READ_YIELD_BLOCKS = 512
/** Block-store range scans read this many entries per `nextv` call. */
export const BLOCK_STORE_SCAN_ENTRIES_MAX = 1_000
/** `writeBlocks` (bulk import) commits a level batch every this many blocks. */
export const BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX = 1_000

// Lexicon schemas and validation (core/lexicon/*)
/** Largest lexicon JSON file read by `loadLexiconDir` (the biggest upstream file is ~40 KB). */
export const LEXICON_DOC_BYTES_MAX = 1_048_576
/** Most `.json` files `loadLexiconDir` reads from one tree (upstream has ~260). */
export const LEXICON_DIR_FILES_MAX = 10_000
/** Deepest directory nesting `loadLexiconDir` descends (`com/atproto/repo` is 3). */
export const LEXICON_DIR_DEPTH_MAX = 16
/** Longest def name in a lexicon document (an NSID name segment is at most 63). */
export const LEXICON_DEF_NAME_CHARS_MAX = 63
/** Deepest object/array nesting the validator follows (data model recommends 32; views nest deeper). */
export const LEXICON_VALIDATION_DEPTH_MAX = 64

// Identity resolution (did-resolver/)
/** Time limit for one identity fetch (DID document, well-known handle file); the reference PDS uses 3 s. */
export const IDENTITY_FETCH_TIMEOUT_MS = 3_000
/** Time limit for one `_atproto` TXT lookup. */
export const DNS_RESOLVE_TIMEOUT_MS = 3_000
/** Largest DID document body read from the network (a PLC document is ~1 KB). */
export const DID_DOC_BYTES_MAX = 65_536
/** Most entries in each DID document array (alsoKnownAs, verificationMethod, service); PLC allows 10. */
export const DID_DOC_ENTRIES_MAX = 64
/** Longest service endpoint URL taken from a DID document (the PLC op limit). */
export const SERVICE_ENDPOINT_LENGTH_MAX = 512
/** Largest `/.well-known/atproto-did` body read: one DID and a newline. */
export const ATPROTO_DID_BODY_BYTES_MAX = 4_096
/** DID cache: most entries kept (LRU eviction past this). */
export const DID_CACHE_ENTRIES_MAX = 50_000
/** DID cache: served without a re-fetch while younger than this (reference PDS: 1 h). */
export const DID_CACHE_STALE_MS = 60 * 60 * 1000
/** DID cache: never served once older than this (reference PDS: 24 h). */
export const DID_CACHE_EXPIRE_MS = 24 * 60 * 60 * 1000
/** DID cache: after a failed background re-fetch, wait this long before trying again. */
export const DID_CACHE_RETRY_MS = 60 * 1000
/** DID cache: a signature failure forces a re-fetch only if the cached value is older than this. */
export const DID_CACHE_FORCED_REFRESH_MIN_MS = 5 * 1000
/** DID cache: most fetches in flight at once; past it a lookup fails with `ResolverBusy`. */
export const DID_CACHE_INFLIGHT_MAX = 1_000
/** Pooled keep-alive connections to the (trusted, configured) PLC directory. */
export const PLC_FETCH_SOCKETS_MAX = 32
/** Handle cache: a failed handle resolution is re-checked once older than this (indigo: 5 min). */
export const HANDLE_FAILURE_STALE_MS = 5 * 60 * 1000

// DAG-CBOR codec (core/data/cbor-*.ts)
/** The encoder keeps its scratch buffer between calls only while it is at most this big. */
export const CBOR_ENCODER_SCRATCH_BYTES_MAX = 1_048_576
/** CBOR decoder: slots in the direct-mapped cache of decoded map keys (a power of two). */
export const CBOR_KEY_CACHE_SLOTS = 1_024
