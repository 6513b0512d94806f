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
/** ... or as soon as a batch holds this many bytes of block data (well under one memtable, LEVEL_WRITE_BUFFER_BYTES). */
export const BLOCK_STORE_WRITE_BATCH_BYTES_MAX = 1_048_576

// LevelDB, every store (core/level-options.ts)
/** LevelDB memtable and table-file size for every store (core/level-options.ts says why; LevelDB's defaults are 4 MB and 2 MB). */
export const LEVEL_WRITE_BUFFER_BYTES = 32 * 1024 * 1024
export const LEVEL_TABLE_FILE_BYTES = 32 * 1024 * 1024
/** LevelDB data block size for every store (LevelDB's default 4 KB): an open table's index, held in memory, has one entry per block. */
export const LEVEL_BLOCK_BYTES = 16 * 1024
/** Tables LevelDB keeps open (its default): bounds the in-memory table indexes, ~0.1 MB per 32 MB table at 16 KB blocks. */
export const LEVEL_OPEN_TABLES_MAX = 1_000

// Crypto (core/crypto)
/** Longest multibase key text accepted before base58 decoding (35-byte multikey ≈ 49 chars; legacy 65-byte ≈ 90). */
export const MULTIKEY_LENGTH_MAX = 128
/** Parsed verification keys (did:key → prepared verifier) kept by verifySignature; a P-256 miss costs ~150 µs. */
export const VERIFY_KEY_CACHE_ENTRIES_MAX = 20_000

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

// PLC directory and client (did-resolver/plc/; did-method-plc packages/server/src/constraints.ts, did:plc spec v0.3)
/** Largest operation, as DAG-CBOR of the signed op (reference server; the spec allows 7,500). */
export const PLC_OP_BYTES_MAX = 4_000
/** Rotation keys the directory accepts in one op (reference server; the spec says 1–5). */
export const PLC_ROTATION_KEYS_MAX = 10
/** Rotation keys our op builder puts in an op (the spec's bound; plc.directory may enforce it later). */
export const PLC_ROTATION_KEYS_BUILD_MAX = 5
export const PLC_VERIFICATION_METHODS_MAX = 10
export const PLC_ALSO_KNOWN_AS_MAX = 10
/** A 253-char handle plus the `at://` prefix. */
export const PLC_ALSO_KNOWN_AS_LENGTH_MAX = 258
export const PLC_SERVICES_MAX = 10
/** Verification-method and service ids (map keys). */
export const PLC_ID_LENGTH_MAX = 32
export const PLC_SERVICE_TYPE_LENGTH_MAX = 256
export const PLC_SERVICE_ENDPOINT_LENGTH_MAX = 512
/** A verification-method did:key of any key type (k256 is 57 chars, BLS12-381 143). */
export const PLC_DID_KEY_LENGTH_MAX = 256
/** Base64url text of a 64-byte compact signature, no padding. */
export const PLC_SIG_LENGTH = 86
/** A higher-priority rotation key may nullify an op for this long after it was accepted. */
export const PLC_RECOVERY_WINDOW_MS = 72 * 60 * 60 * 1000
/** Per-DID op rate limits (non-recovery ops; reference server). */
export const PLC_OPS_PER_HOUR_MAX = 10
export const PLC_OPS_PER_DAY_MAX = 30
export const PLC_OPS_PER_WEEK_MAX = 100
/** Lines per `/export` page. */
export const PLC_EXPORT_COUNT_MAX = 1_000
/** JSON body of `POST /:did`; larger than any op that can pass PLC_OP_BYTES_MAX, so those get a clear 400. */
export const PLC_REQUEST_BODY_BYTES_MAX = 32_768
/** Writes waiting for the directory's single writer; past it `POST /:did` answers 503. */
export const PLC_WRITE_QUEUE_MAX = 1_000
/** PLC client: time limit for one request. */
export const PLC_CLIENT_TIMEOUT_MS = 10_000
/** PLC client: largest document, data or last-op response read. */
export const PLC_CLIENT_RESPONSE_BYTES_MAX = 262_144
/** PLC client: largest audit-log or op-log response read (100 ops/week at ≤ 4 KB each stays well under). */
export const PLC_CLIENT_LOG_BYTES_MAX = 16_777_216

// Event streams (core/stream/): frames, events, event log, subscribeRepos server and client
/** Largest seq a stream may carry (the sync spec: 1 to < 2^53). */
export const STREAM_SEQ_MAX = Number.MAX_SAFE_INTEGER
/** `#sync.blocks`: a CAR holding only the commit block (lexicon maxLength). */
export const SYNC_BLOCKS_BYTES_MAX = 10_000
/** Most events one `EventLog.append` call sequences (account creation appends 4). */
export const EVENT_LOG_APPEND_EVENTS_MAX = 1_000
/** Most events one `EventLog.read` call yields. */
export const EVENT_LOG_READ_EVENTS_MAX = 10_000
/** Recently appended frames kept in memory and shared by every live subscriber. */
export const EVENT_LOG_TAIL_FRAMES_MAX = 4_096
export const EVENT_LOG_TAIL_BYTES_MAX = 32 * 1024 * 1024
/** `trim` deletes expired events in level batches of this many keys. */
export const EVENT_LOG_TRIM_BATCH_EVENTS_MAX = 1_000
/** `moveLevelEventLog` copies events in level batches of at most this many events… */
export const EVENT_LOG_MOVE_BATCH_EVENTS_MAX = 1_000
/** …or bytes of keys and frames (the event that reaches it ends the batch). */
export const EVENT_LOG_MOVE_BATCH_BYTES_MAX = 8 * 1024 * 1024
/** Open subscriptions per stream endpoint; past it the upgrade is refused with 503. */
export const STREAM_SUBSCRIBERS_MAX = 2_048
/** Open subscriptions per stream endpoint from one client address (IPv6: one /64; loopback exempt); past it 429. */
export const STREAM_SUBSCRIBERS_PER_ADDRESS_MAX = 64
/** Per subscriber: stop sending while the socket holds this many unsent bytes. */
export const STREAM_SEND_BUFFER_BYTES_MAX = 2 * 1024 * 1024
/** Per subscriber: stop sending while this many frames wait for the socket. */
export const STREAM_SEND_QUEUE_FRAMES_MAX = 512
/** A live subscriber this many events behind the head gets `ConsumerTooSlow` (indigo: 16,384). */
export const STREAM_SUBSCRIBER_LAG_EVENTS_MAX = 16_384
/** A subscriber whose socket accepts nothing for this long gets `ConsumerTooSlow`. */
export const STREAM_SUBSCRIBER_STALL_MS_MAX = 60_000
/** Events a subscriber reads from the log per page while it replays. */
export const STREAM_READ_PAGE_EVENTS = 256
/** Largest client→server WebSocket message accepted (they are ignored; bigger ones close the socket). */
export const STREAM_CLIENT_MESSAGE_BYTES_MAX = 4_096
/** Keepalive: a ping every interval; a peer that misses this many pongs in a row is dropped (indigo: 30 s, 4). */
export const STREAM_PING_INTERVAL_MS = 30_000
export const STREAM_PINGS_MISSED_MAX = 4
/** After our close frame, the peer has this long to finish the close handshake before the socket is destroyed. */
export const STREAM_CLOSE_GRACE_MS = 5_000
/** Client: frames decoded but not yet taken by the consumer; the socket is paused while full. */
export const STREAM_CLIENT_QUEUE_FRAMES_MAX = 256
export const STREAM_CLIENT_QUEUE_BYTES_MAX = 16 * 1024 * 1024
/** Client: reconnect backoff doubles from MIN up to MAX, with jitter. */
export const STREAM_RECONNECT_BACKOFF_MS_MIN = 500
export const STREAM_RECONNECT_BACKOFF_MS_MAX = 60_000
/** Client: consecutive failed connections before it gives up with `StreamUnreachable`. */
export const STREAM_RECONNECT_FAILURES_MAX = 30
/** Client: time limit for the WebSocket opening handshake. */
export const STREAM_HANDSHAKE_TIMEOUT_MS = 10_000

// XRPC server and client (core/xrpc/; reference xrpc-server and pds/index.ts)
/** Default JSON request body (reference PDS `jsonLimit: 150 * 1024`). */
export const XRPC_JSON_BODY_BYTES_MAX = 153_600
/** JSON body of createRecord / putRecord / applyWrites (reference: 1,000,000 bytes). */
export const XRPC_WRITE_JSON_BODY_BYTES_MAX = 1_000_000
/** A JSON body must arrive completely within this time (slow-loris bound). */
export const XRPC_JSON_BODY_TIMEOUT_MS = 30_000
/** Default total time for a binary body (100 MiB at ~115 KB/s); methods may override. */
export const XRPC_BINARY_BODY_TIMEOUT_MS = 15 * 60 * 1000
/** Any request body: longest pause between two chunks. */
export const XRPC_BODY_IDLE_TIMEOUT_MS = 30_000
/** Most stacked Content-Encoding layers decoded (`gzip, br` is 2). */
export const XRPC_CONTENT_ENCODINGS_MAX = 2
/** Most query-string values one request may carry (repeated keys count each time). */
export const XRPC_QUERY_VALUES_MAX = 1_000
/** Rate limiter: most keys tracked per bucket; the oldest window is dropped past it. */
export const RATE_LIMIT_KEYS_MAX = 100_000
/** Client: default time limit for a whole call (headers and body). */
export const XRPC_CLIENT_TIMEOUT_MS = 30_000
/** Client: default largest response body read (the reference proxy's cap). */
export const XRPC_CLIENT_RESPONSE_BYTES_MAX = 10_485_760
/** Client: largest error body read for its `{error, message}`. */
export const XRPC_CLIENT_ERROR_BYTES_MAX = 65_536

// Reference PDS rate limits (pds/rate-limits.ts and per-route limits; applied when enabled)
export const RATE_LIMIT_GLOBAL_IP = { points: 3_000, windowMs: 5 * 60 * 1000 }
export const RATE_LIMIT_REPO_WRITE_HOUR_DID = { points: 5_000, windowMs: 60 * 60 * 1000 }
export const RATE_LIMIT_REPO_WRITE_DAY_DID = { points: 35_000, windowMs: 24 * 60 * 60 * 1000 }
/** Repo write points per operation: create 3, update 2, delete 1 (applyWrites sums its writes). */
export const RATE_LIMIT_WRITE_POINTS = { create: 3, update: 2, delete: 1 }
export const RATE_LIMIT_CREATE_SESSION_5MIN = { points: 30, windowMs: 5 * 60 * 1000 }
export const RATE_LIMIT_CREATE_SESSION_DAY = { points: 300, windowMs: 24 * 60 * 60 * 1000 }
export const RATE_LIMIT_CREATE_ACCOUNT_IP = { points: 100, windowMs: 5 * 60 * 1000 }
export const RATE_LIMIT_UPLOAD_BLOB_IP = { points: 1_000, windowMs: 24 * 60 * 60 * 1000 }
export const RATE_LIMIT_GET_REPO_IP = { points: 6_000, windowMs: 5 * 60 * 1000 }
export const RATE_LIMIT_UPDATE_HANDLE_5MIN_DID = { points: 10, windowMs: 5 * 60 * 1000 }
export const RATE_LIMIT_UPDATE_HANDLE_DAY_DID = { points: 50, windowMs: 24 * 60 * 60 * 1000 }
export const RATE_LIMIT_DELETE_ACCOUNT_IP = { points: 50, windowMs: 5 * 60 * 1000 }
export const RATE_LIMIT_RESET_PASSWORD_IP = { points: 50, windowMs: 5 * 60 * 1000 }
export const RATE_LIMIT_REQUEST_PASSWORD_RESET_HOUR_IP = { points: 15, windowMs: 60 * 60 * 1000 }
export const RATE_LIMIT_REQUEST_PASSWORD_RESET_DAY_IP = { points: 50, windowMs: 24 * 60 * 60 * 1000 }
/** requestAccountDelete / requestEmailConfirmation / requestEmailUpdate, per DID. */
export const RATE_LIMIT_EMAIL_REQUEST_HOUR_DID = { points: 5, windowMs: 60 * 60 * 1000 }
export const RATE_LIMIT_EMAIL_REQUEST_DAY_DID = { points: 15, windowMs: 24 * 60 * 60 * 1000 }

// JWTs (core/crypto/jwt*.ts; reference xrpc-server auth.ts, pds auth-verifier.ts)
/** Longest token text parsed at all (a service JWT is ~400 chars); longer is rejected before decoding. */
export const JWT_LENGTH_MAX = 8_192
/** Clock difference tolerated on `exp` and `iat` between issuer and verifier. */
export const JWT_CLOCK_SKEW_S = 30
/** Service JWT lifetime when the issuer gives no `exp` (reference: 60 s). */
export const SERVICE_JWT_LIFETIME_DEFAULT_S = 60
/** Longest service JWT lifetime issued or accepted (reference getServiceAuth: 1 h with `lxm`). */
export const SERVICE_JWT_LIFETIME_MAX_S = 3_600
/** Longest lifetime getServiceAuth grants a token without `lxm` (reference: 60 s). */
export const SERVICE_JWT_NO_LXM_LIFETIME_MAX_S = 60
/** Session access token lifetime (reference: 120 min). */
export const ACCESS_JWT_LIFETIME_S = 2 * 60 * 60
/** Session refresh token lifetime (reference: 90 days). */
export const REFRESH_JWT_LIFETIME_S = 90 * 24 * 60 * 60
/** A rotated refresh token stays usable this long (reference: 2 h). */
export const REFRESH_JWT_GRACE_S = 2 * 60 * 60
/** Shortest session HMAC secret accepted (the distro generates 32 random bytes as hex). */
export const SESSION_JWT_SECRET_BYTES_MIN = 16

// Repo import / export and the `atfed car` commands (core/repo/import.ts, export.ts, cli/car.ts)
/** Most blocks one repo CAR may hold (a 1M-record repo has ~1.3M); past it the import is 'TooManyBlocks'. */
export const CAR_BLOCKS_MAX = 10_000_000
/** Export retries this many times to catch a head and a block snapshot that agree, then 'RepoBusy'. */
export const REPO_EXPORT_SNAPSHOT_TRIES_MAX = 5
/** `atfed car` checks a CAR file this small in memory; a bigger one goes through a temporary level store. */
export const CAR_CLI_MEMORY_BYTES_MAX = 32 * 1024 * 1024
/** Repo import checks a CAR this small in memory (several times faster); a bigger one is streamed through level. */
export const REPO_IMPORT_MEMORY_BYTES_MAX = 16 * 1024 * 1024
/** A bigger CAR streams straight into the account's key space when that holds at most this many blocks (else it is staged). */
export const REPO_IMPORT_DIRECT_PRIOR_BLOCKS_MAX = 10_000

// PDS (pds/; reference packages/pds config, account-manager, api/com/atproto/*)
/** Writes queued behind one repo's write lock; past it a write is refused with 503 `RepoBusy`. */
export const PDS_REPO_WRITE_WAITERS_MAX = 256
/** createSession takes at least this long, found or not (reference: 350 ms, against timing probes). */
export const PDS_LOGIN_DURATION_MIN_MS = 350
/** New passwords (reference: 256); login tolerates longer ones up to PDS_LOGIN_PASSWORD_LENGTH_MAX. */
export const PDS_PASSWORD_LENGTH_MAX = 256
export const PDS_LOGIN_PASSWORD_LENGTH_MAX = 512
/** Emails (RFC 5321 path limit). */
export const PDS_EMAIL_LENGTH_MAX = 254
/** scrypt: per-account salt and derived key (reference: 16-byte salt, 64-byte key, Node's N/r/p defaults). */
export const PDS_SCRYPT_SALT_BYTES = 16
export const PDS_SCRYPT_KEY_BYTES = 64
/** Local part of a handle under a service domain (`alice` in `alice.pds.example`), reference 3–18. */
export const PDS_SERVICE_HANDLE_LOCAL_LENGTH_MIN = 3
export const PDS_SERVICE_HANDLE_LOCAL_LENGTH_MAX = 18
/** Signups between their PLC submission and their account row (handles held in memory meanwhile). */
export const PDS_PENDING_SIGNUPS_MAX = 1_000
/** Account signing keypairs kept parsed in memory. */
export const PDS_SIGNING_KEY_CACHE_ENTRIES_MAX = 10_000
/** listRecords page size (lexicon: 1–100, default 50). */
export const PDS_LIST_RECORDS_LIMIT_MAX = 100
/** listRepos page size (lexicon: 1–1000, default 500). */
export const PDS_LIST_REPOS_LIMIT_MAX = 1_000
/** describeRepo lists at most this many collections (each costs one MST descent). */
export const PDS_DESCRIBE_REPO_COLLECTIONS_MAX = 1_000
/** Default blob upload limit (the reference distro's PDS_BLOB_UPLOAD_LIMIT: 100 MiB). */
export const PDS_BLOB_UPLOAD_BYTES_DEFAULT = 104_857_600
/** Default firehose backfill window (reference PDS_REPO_BACKFILL_LIMIT_MS: 1 day). */
export const PDS_BACKFILL_WINDOW_MS_DEFAULT = 24 * 60 * 60 * 1000
/** How often events older than the backfill window are trimmed from the log. */
export const PDS_EVENT_TRIM_INTERVAL_MS = 60 * 1000
/** Refresh-token rows deleted per account when one of its tokens is rotated (expired rows only). */
export const PDS_REFRESH_TOKENS_SWEEP_MAX = 100

// Firehose consumer and feed generator (feedgen/)
/** Repos handled at once by a FirehoseConsumer (events of one repo always run one at a time, in order). */
export const FEEDGEN_CONSUMER_CONCURRENCY_DEFAULT = 8
/** Events received but not yet handled; at this many the consumer stops reading (the socket is paused). */
export const FEEDGEN_CONSUMER_QUEUE_MAX_DEFAULT = 1_000
/** Largest queueMax / concurrency a consumer accepts. */
export const FEEDGEN_CONSUMER_QUEUE_MAX_MAX = 100_000
export const FEEDGEN_CONSUMER_CONCURRENCY_MAX = 256
/** A handler that throws is retried this many times (capped backoff) before the consumer stops: at-least-once, never skip. */
export const FEEDGEN_HANDLER_TRIES_MAX = 5
export const FEEDGEN_HANDLER_BACKOFF_MS_MIN = 100
export const FEEDGEN_HANDLER_BACKOFF_MS_MAX = 5_000
/** Tries to resolve a repo's signing key (transient identity errors) before its commit is skipped as unverifiable. */
export const FEEDGEN_RESOLVE_TRIES_MAX = 3
export const FEEDGEN_RESOLVE_BACKOFF_MS = 250
/** Wait before a consumer re-subscribes after its stream client gave up (StreamUnreachable). */
export const FEEDGEN_RESUBSCRIBE_DELAY_MS = 10_000
/** Distinct search terms indexed per post (words, hashtags, tags), and the longest term in UTF-16 units. */
export const FEEDGEN_POST_TERMS_MAX = 64
export const FEEDGEN_TERM_LENGTH_MAX = 64
/** app.bsky.feed.post limits the indexer enforces (lexicon: text ≤ 3000 bytes, ≤ 3 langs, ≤ 8 tags). */
export const FEEDGEN_POST_TEXT_BYTES_MAX = 3_000
export const FEEDGEN_POST_LANGS_MAX = 3
export const FEEDGEN_POST_TAGS_MAX = 8
/** getFeedSkeleton page size (lexicon: 1–100, default 50) and longest cursor accepted. */
export const FEEDGEN_SKELETON_LIMIT_MAX = 100
export const FEEDGEN_SKELETON_LIMIT_DEFAULT = 50
export const FEEDGEN_CURSOR_LENGTH_MAX = 1_024
/** Follows of one viewer the `following` feed reads (its merge opens at most one index range per followed account). */
export const FEEDGEN_FOLLOWS_SCAN_MAX = 1_000
/** The following feed's in-memory author heads (feedgen/indexer/author-heads.ts): newest items kept per author, and authors kept (~4 KB each: ~40 MB at most). */
export const FEEDGEN_AUTHOR_HEAD_ITEMS = 16
export const FEEDGEN_AUTHOR_HEADS_MAX = 10_000
/** Viewers whose follow lists the following feed keeps in memory (invalidated on their follow writes). */
export const FEEDGEN_FOLLOWS_CACHED_MAX = 10_000
/** Items a feed page looks at beyond its limit to skip hidden ones (inactive accounts); at this many it ends the page early with a cursor. */
export const FEEDGEN_HIDDEN_SCAN_MAX = 1_000
/** Likes the `popular` feed counts per ranking (newest first within the window) and posts it keeps ranked. */
export const FEEDGEN_POPULAR_LIKES_SCAN_MAX = 200_000
export const FEEDGEN_POPULAR_RANKED_MAX = 1_000
/** How long one `popular` ranking is reused before it is recomputed. */
export const FEEDGEN_POPULAR_CACHE_MS = 15_000
export const FEEDGEN_POPULAR_WINDOW_HOURS_DEFAULT = 24

// Relay (relay/; indigo cmd/relay defaults where it has one)
/** Upstream hosts tracked at once; requestCrawl refuses a new one past it ('TooManyHosts'). */
export const RELAY_HOSTS_MAX = 10_000
/** New hosts requestCrawl may add per rolling day (indigo: 50); configured hosts and admins are exempt. */
export const RELAY_NEW_HOSTS_PER_DAY_MAX = 50
/** Accounts a new (untrusted) host may bring (indigo DefaultRepoLimit); events of accounts past it are dropped. */
export const RELAY_HOST_ACCOUNTS_MAX_NEW = 100
/** Accounts a trusted (operator-configured) host may bring (indigo TrustedRepoLimit). */
export const RELAY_HOST_ACCOUNTS_MAX_TRUSTED = 10_000_000
/** Untrusted host event rates (indigo): BASE + accountsMax/1000 per s, BASE + accountsMax per h, BASE + 10 × accountsMax per day. */
export const RELAY_HOST_EVENTS_PER_SECOND_BASE = 50
export const RELAY_HOST_EVENTS_PER_HOUR_BASE = 2_500
export const RELAY_HOST_EVENTS_PER_DAY_BASE = 20_000
/** Trusted host event rates (indigo). */
export const RELAY_HOST_EVENTS_PER_SECOND_TRUSTED = 5_000
export const RELAY_HOST_EVENTS_PER_HOUR_TRUSTED = 50_000_000
export const RELAY_HOST_EVENTS_PER_DAY_TRUSTED = 500_000_000
/** Largest value an admin may set for any host limit. */
export const RELAY_HOST_LIMIT_VALUE_MAX = 1_000_000_000
/** A host reads as `throttled` for this long after its rate limiter last held an event back. */
export const RELAY_HOST_THROTTLED_STATUS_MS = 2_000
/** Reconnect backoff to an upstream host (doubling, jittered). */
export const RELAY_HOST_BACKOFF_MS_MIN = 1_000
export const RELAY_HOST_BACKOFF_MS_MAX = 60_000
/** Failed connections in a row before a host is marked `offline` (indigo: 15). */
export const RELAY_HOST_FAILURES_MAX = 15
/** An `offline` host is probed with describeServer this often, forever, and resubscribed when it answers. */
export const RELAY_HOST_OFFLINE_RETRY_MS = 10 * 60 * 1000
/** describeServer probe (requestCrawl, offline retries): time limit and body cap (indigo: 5 s). */
export const RELAY_HOST_PROBE_TIMEOUT_MS = 5_000
export const RELAY_HOST_PROBE_BYTES_MAX = 65_536
/** Upstream events of one host being checked at once; results are applied in upstream order. */
export const RELAY_HOST_PIPELINE_EVENTS_MAX = 64
/** Longest `lastError` text kept per host. */
export const RELAY_HOST_ERROR_CHARS_MAX = 512
/** Sequencer: a batch is written after this long, or at once when this many events wait. */
export const RELAY_SEQUENCER_FLUSH_MS = 5
export const RELAY_SEQUENCER_BATCH_EVENTS = 500
/** Sequencer: events queued for the next batch; past it ingest waits (every host's reader pauses). */
export const RELAY_SEQUENCER_QUEUE_EVENTS_MAX = 5_000
/**
 * Sequencer: bytes of queued events (their CARs plus RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES each);
 * past it ingest waits too. A batch takes the whole queue and level builds it as one string on
 * the main thread, so this caps that string: without it a disk stall let 5,000 events (~25 MB)
 * pile up, and glibc kept the heap those batches grew.
 */
export const RELAY_SEQUENCER_QUEUE_BYTES_MAX = 8 * 1024 * 1024
/** What the sequencer counts for an event beside its CAR (ops, DIDs, rev, frame header). */
export const RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES = 256
/** Firehose replay window (indigo RELAY_REPLAY_WINDOW: 72 h) and how often expired events are trimmed. */
export const RELAY_RETENTION_HOURS_DEFAULT = 72
export const RELAY_TRIM_INTERVAL_MS = 60_000
/** Downstream firehose subscribers at once; past it the upgrade is refused with 503. */
export const RELAY_SUBSCRIBERS_MAX = 1_024
/**
 * Per relay subscriber: its send window (frames handed to the socket and not yet taken by the
 * kernel). Live frames are shared, but a replaying subscriber's come from its own storage reads,
 * so this bounds what each of up to RELAY_SUBSCRIBERS_MAX consumers can pin.
 */
export const RELAY_SEND_BUFFER_BYTES_MAX = 64 * 1024
export const RELAY_SEND_QUEUE_FRAMES_MAX = 16
/** Account states kept in memory (clean ones evicted least recently used first). */
export const RELAY_ACCOUNT_CACHE_ENTRIES_MAX = 200_000
/** Account states moved per atomic batch from the relay's old `accounts` sublevel on open (relay/accounts.ts). */
export const RELAY_ACCOUNT_MOVE_BATCH_MAX = 1_000
/** Desync recovery: getRepo fetches at once, accounts waiting, largest CAR, time limit, wait before a retry. */
export const RELAY_RESYNC_CONCURRENCY = 4
export const RELAY_RESYNC_QUEUE_MAX = 1_000
export const RELAY_RESYNC_CAR_BYTES_MAX = 64 * 1024 * 1024
export const RELAY_RESYNC_TIMEOUT_MS = 60_000
export const RELAY_RESYNC_RETRY_MS = 60_000
/** Events of one account held while its resync runs (replayed after it); past it they are dropped. */
export const RELAY_RESYNC_BUFFER_EVENTS_MAX = 100
/** Events held for all resyncs together (~4 KB each). */
export const RELAY_RESYNC_HELD_EVENTS_MAX = 10_000
/** A forced DID re-resolution (WrongHost check) happens at most this often per DID. */
export const RELAY_FORCED_RESOLVE_MIN_MS = 5_000
export const RELAY_FORCED_RESOLVE_ENTRIES_MAX = 10_000
/** listRepos (lexicon: 1–1000, default 500) and listHosts (1–1000, default 200) pages. */
export const RELAY_LIST_REPOS_LIMIT_MAX = 1_000
export const RELAY_LIST_REPOS_LIMIT_DEFAULT = 500
export const RELAY_LIST_HOSTS_LIMIT_MAX = 1_000
export const RELAY_LIST_HOSTS_LIMIT_DEFAULT = 200
/** Admin and requestCrawl JSON bodies. */
export const RELAY_ADMIN_BODY_BYTES_MAX = 16_384
/** Verification worker threads (0 = verify on the main thread). */
export const RELAY_VERIFY_WORKERS_MAX = 16

// Jetstream-compatible JSON endpoint of the relay (relay/jetstream/; bluesky-social/jetstream README and internal/subscribe)
/** `wantedCollections` entries (NSIDs or `prefix.*`) one subscriber may ask for (Jetstream: 100). */
export const JETSTREAM_WANTED_COLLECTIONS_MAX = 100
/** `wantedDids` entries one subscriber may ask for (Jetstream: 10,000). */
export const JETSTREAM_WANTED_DIDS_MAX = 10_000
/** Largest subscriber→server message (`options_update`): 10,000 DIDs of ~35 bytes fit with room (Jetstream allows 10 MB). */
export const JETSTREAM_CLIENT_MESSAGE_BYTES_MAX = 2 * 1024 * 1024
/** Open JSON subscriptions; past it the upgrade is refused with 503. */
export const JETSTREAM_SUBSCRIBERS_MAX = 2_048
/** Jetstream subscriptions from one client address (IPv6: one /64; loopback exempt); past it 429. */
export const JETSTREAM_SUBSCRIBERS_PER_ADDRESS_MAX = 64
/** Per subscriber: stop sending while the socket holds this many unsent bytes (JSON messages are ~0.5 KB). */
export const JETSTREAM_SEND_BUFFER_BYTES_MAX = 1024 * 1024
/** Per subscriber: stop sending while this many messages wait for the socket. */
export const JETSTREAM_SEND_QUEUE_MESSAGES_MAX = 2_048
/** A live subscriber this many log events behind the head is closed as too slow. */
export const JETSTREAM_SUBSCRIBER_LAG_EVENTS_MAX = 16_384
/** A subscriber whose socket accepts nothing for this long is closed as too slow. */
export const JETSTREAM_SUBSCRIBER_STALL_MS_MAX = 60_000
/** Log events a subscriber (and the time index) reads per page. */
export const JETSTREAM_READ_PAGE_EVENTS = 256
/** Rendered events (JSON of every message of one log event) kept for all subscribers (LRU). */
export const JETSTREAM_RENDER_CACHE_EVENTS_MAX = 8_192
export const JETSTREAM_RENDER_CACHE_BYTES_MAX = 64 * 1024 * 1024
/** Time index: a (seq, time_us) checkpoint every this many events at first; the stride doubles each time the index fills. */
export const JETSTREAM_TIME_INDEX_STRIDE_EVENTS = 256
/** Time index: most checkpoints kept (when full, every other one is dropped). */
export const JETSTREAM_TIME_INDEX_CHECKPOINTS_MAX = 65_536
/** Time index: at start, at most this many of the newest stored events are re-read to rebuild it; older ones are not served. */
export const JETSTREAM_TIME_INDEX_REBUILD_EVENTS_MAX = 1_000_000
/** An event `time` further than this past the relay's clock is clamped to it (a hostile host cannot push time_us ahead). */
export const JETSTREAM_FUTURE_TIME_TOLERANCE_MS = 5 * 60 * 1000
/** Time index: events whose time was clamped, remembered so later readers stamp them the same way. */
export const JETSTREAM_CLAMPED_EVENTS_MAX = 4_096
/** zstd level for compressed subscribers (each message is compressed once and shared). */
export const JETSTREAM_ZSTD_LEVEL = 3

// PDS blobs (pds/blobs/*, pds/routes/blobs.ts)
/** Bytes of a blob's start kept for type sniffing (ISO-BMFF brands sit at 8–12, the WebM doctype within the first ~40). */
export const PDS_BLOB_SNIFF_BYTES = 512
/** Longest declared Content-Type stored as a blob's type (longer ones fall back to application/octet-stream). */
export const PDS_BLOB_MIME_TYPE_LENGTH_MAX = 255
/**
 * An upload no record references is deleted this long after its (last) upload. The blob spec asks for hours,
 * at least 1 h; the reference PDS v2 never deletes them (atproto issue #2051). 6 h leaves room for scheduled posts.
 */
export const PDS_BLOB_TEMP_GRACE_MS = 6 * 60 * 60 * 1000
/** A blob whose last referencing record went is deleted this long after (not served meanwhile; the reference deletes at once). */
export const PDS_BLOB_DEREFERENCED_GRACE_MS = 60 * 60 * 1000
/** How often the blob garbage collector runs. */
export const PDS_BLOB_GC_INTERVAL_MS = 5 * 60 * 1000
/** Blobs one GC pass deletes at most; the next pass continues. */
export const PDS_BLOB_GC_BATCH_MAX = 1_000
/** listBlobs / listMissingBlobs page size (lexicon maximum). */
export const PDS_LIST_BLOBS_LIMIT_MAX = 1_000
/** Reference rows one listBlobs/listMissingBlobs page reads at most; past it the page comes back short, with a cursor. */
export const PDS_LIST_BLOBS_SCAN_ROWS_MAX = 10_000
/** Level rows written per batch when an imported repo's blob references are indexed. */
export const PDS_BLOB_REINDEX_BATCH_ROWS = 1_000

// PDS group commit, relay announcements, service proxying (pds/commit-queue.ts, pds/crawlers.ts, pds/proxy.ts)
/** Commits written in one durable batch at most (the rest wait for the next). */
export const PDS_COMMIT_BATCH_COMMITS_MAX = 128
/** Bytes of values in one durable batch at most (a single larger commit still goes, alone). */
export const PDS_COMMIT_BATCH_BYTES_MAX = 16_000_000
/** Commits waiting for a batch at most; one more is 503 ServerBusy. */
export const PDS_COMMIT_QUEUE_COMMITS_MAX = 2_048
/** Bytes waiting for a batch at most; one more commit is 503 ServerBusy. */
export const PDS_COMMIT_QUEUE_BYTES_MAX = 128_000_000

// PDS migration (pds/migration/*, pds/routes/migration.ts, cli/account*.ts)
/** A PLC operation token (requestPlcOperationSignature) is valid this long (reference: 15 min email tokens). */
export const PDS_PLC_TOKEN_TTL_MS = 15 * 60 * 1000
/** Leaf counts written per level batch when an imported repo's record-block counts are rebuilt. */
export const PDS_IMPORT_REFS_BATCH_OPS_MAX = 5_000
/** `atfed account migrate`: largest repo CAR carried from the old PDS to the new one. */
export const MIGRATE_REPO_CAR_BYTES_MAX = 1_073_741_824
/** `atfed account migrate`: time limit for moving the repo CAR (getRepo → importRepo). */
export const MIGRATE_REPO_TRANSFER_TIMEOUT_MS = 30 * 60 * 1000
/** `atfed account migrate`: largest blob carried (the reference distro's upload limit is 100 MiB). */
export const MIGRATE_BLOB_BYTES_MAX = 104_857_600
/** `atfed account migrate`: listMissingBlobs page size. */
export const MIGRATE_BLOBS_PAGE_LIMIT = 500
/** `atfed account migrate`: listMissingBlobs pages read at most (bounds a server that never ends its cursor). */
export const MIGRATE_BLOB_PAGES_MAX = 10_000

// PDS accounts extras: app passwords, invites, admin, deletion, preferences, sync extras
// (pds/accounts/{app-passwords,invites,invite-check,preferences,account-deletion}.ts, pds/routes/{admin,account-extras,preferences,sync-extras}.ts)
/** App passwords one account may hold (reference: no cap; the settings page shows a short list). */
export const PDS_APP_PASSWORDS_PER_ACCOUNT_MAX = 50
/** Longest app-password name, in UTF-16 units (reference: no cap). */
export const PDS_APP_PASSWORD_NAME_LENGTH_MAX = 256
/** Uses one invite code may allow (reference: no cap). */
export const PDS_INVITE_CODE_USES_MAX = 100_000
/** Codes one createInviteCodes call may create in all (codeCount × accounts; reference: no cap). */
export const PDS_INVITE_CODES_PER_CALL_MAX = 1_000
/** A signup's claim on an invite-code use that never reached the disk is dropped after this (a failed signup). */
export const PDS_INVITE_CLAIM_PENDING_MS = 60_000
/** admin.getInviteCodes page size (lexicon max 500). */
export const PDS_INVITE_CODES_PAGE_MAX = 500
/** admin.getInviteCodes sort=usage sorts in memory: at most this many codes are read. */
export const PDS_INVITE_USAGE_SORT_SCAN_MAX = 10_000
/** Codes listed per account (getAccountInviteCodes, admin account views). */
export const PDS_ACCOUNT_INVITE_CODES_MAX = 1_000
/** Codes plus accounts one disableInviteCodes call may name. */
export const PDS_DISABLE_INVITE_CODES_MAX = 1_000
/** An account-deletion token is valid this long (reference: 15 min email tokens). */
export const PDS_DELETE_TOKEN_TTL_MS = 15 * 60 * 1000
/** DIDs one admin.getAccountInfos call may name. */
export const PDS_ACCOUNT_INFOS_DIDS_MAX = 500
/** admin.searchAccounts page size (lexicon max 100). */
export const PDS_SEARCH_ACCOUNTS_LIMIT_MAX = 100
/** Stored preferences of one account, as JSON bytes (reference: only the 100 KB JSON body limit). */
export const PDS_PREFERENCES_JSON_BYTES_MAX = 100_000
/** CIDs one sync.getBlocks call may ask for (reference: no cap; Node's 16 KiB header limit allows ~240 in a URL). */
export const PDS_GET_BLOCKS_CIDS_MAX = 200
/** getRepo `since`: a diff of more blocks than this is answered with the full repo instead. */
export const PDS_GET_REPO_SINCE_BLOCKS_MAX = 20_000
/** Per-commit block lists (getRepo `since`) older than this are pruned; an older `since` gets the full repo. */
export const PDS_COMMIT_INDEX_RETENTION_MS = 30 * 24 * 60 * 60 * 1000
/** The commit index is pruned for the committing DID once every this many commits (process-wide). */
export const PDS_COMMIT_INDEX_PRUNE_EVERY_COMMITS = 64
/** Commit-index entries recorded and not yet written (queued, or in batches the database has not finished); past it entries are dropped, which only costs getRepo `since` a full-repo answer. */
export const PDS_COMMIT_INDEX_PENDING_MAX = 10_000
/** Invite codes whose first-free-use hint is remembered (a forgotten hint only costs a rescan from use 0). */
export const PDS_INVITE_CLAIM_HINTS_MAX = 10_000
/** requestCrawl after writes: at most once per this long (the reference's NOTIFY_THRESHOLD, 20 min). */
export const PDS_CRAWL_NOTIFY_INTERVAL_MS = 20 * 60 * 1000
/** A write's requestCrawl waits this long, so a burst of writes makes one announcement. */
export const PDS_CRAWL_WRITE_DEBOUNCE_MS = 1_000
/** How often the PDS checks whether any relay is subscribed to its firehose. */
export const PDS_CRAWL_IDLE_CHECK_INTERVAL_MS = 60 * 1000
/** No firehose subscriber (and no announcement) for this long: announce again. */
export const PDS_CRAWL_UNSUBSCRIBED_REANNOUNCE_MS = 30 * 60 * 1000
/** One requestCrawl POST may take this long. */
export const PDS_CRAWL_REQUEST_TIMEOUT_MS = 10_000
/** Retries of a failed requestCrawl (network error, 5xx, 429) per announcement. */
export const PDS_CRAWL_RETRIES_MAX = 3
/** First retry delay; doubles per retry. */
export const PDS_CRAWL_RETRY_BACKOFF_MS = 2_000
/** `close()` waits at most this long for requestCrawl calls in flight (Node 20's fetch can ignore an abort while a body is read). */
export const PDS_CRAWL_CLOSE_WAIT_MS = 1_000
/** Longest `atproto-proxy` header value (`did#serviceId`). */
export const PDS_PROXY_HEADER_LENGTH_MAX = 2_048
/** Largest request body forwarded by atproto-proxy; more is 413. */
export const PDS_PROXY_REQUEST_BYTES_MAX = 10 * 1024 * 1024
/** Largest upstream response relayed; a larger one is cut (502 if it is known before the headers go out). */
export const PDS_PROXY_RESPONSE_BYTES_MAX = 10 * 1024 * 1024
/** Upstream must send its response headers within this (reference proxy headersTimeout). */
export const PDS_PROXY_HEADERS_TIMEOUT_MS = 10_000
/** Upstream may go this long without sending body bytes (reference proxy bodyTimeout). */
export const PDS_PROXY_BODY_IDLE_TIMEOUT_MS = 30_000
/** An upstream error body read at most this far for its {error, message}. */
export const PDS_PROXY_ERROR_BODY_BYTES_MAX = 64 * 1024
/** Pooled keep-alive sockets per upstream host. */
export const PDS_PROXY_SOCKETS_PER_HOST_MAX = 64

// ---- labeler (feedgen/labeler) ----
/** A label value (`val`): at most this many bytes (lexicon maxLength 128). */
export const LABEL_VALUE_BYTES_MAX = 128
/** A label's subject (`uri`: an at-uri or a DID) at most this many bytes (the at-uri limit). */
export const LABEL_URI_BYTES_MAX = 8_192
/** queryLabels: `uriPatterns` values per request. */
export const LABEL_QUERY_PATTERNS_MAX = 50
/** queryLabels: one uri pattern at most this many bytes. */
export const LABEL_QUERY_PATTERN_BYTES_MAX = 2_048
/** queryLabels: `sources` values per request. */
export const LABEL_QUERY_SOURCES_MAX = 20
/** queryLabels `limit` (lexicon: 1..250, default 50). */
export const LABEL_QUERY_LIMIT_MAX = 250
/** queryLabels `limit` when none is given (lexicon default). */
export const LABEL_QUERY_LIMIT_DEFAULT = 50
/** queryLabels: index entries examined per request (filtered-out, negated and expired ones count too); then a cursor. */
export const LABEL_QUERY_SCAN_MAX = 2_500
/** queryLabels cursor: at most this many characters (it names one index key: uri, src, val). */
export const LABEL_QUERY_CURSOR_LENGTH_MAX = 16_384
/** Labels written in one group-commit batch (one `#labels` event each). */
export const LABEL_WRITE_BATCH_MAX = 500
/** Label writes waiting for the writer; more is `LabelQueueFull` (back-pressure on the consumer and the admin API). */
export const LABEL_WRITE_QUEUE_MAX = 10_000
/** Rules in one rules file. */
export const LABELER_RULES_MAX = 200
/** A rules file at most this many bytes. */
export const LABELER_RULES_FILE_BYTES_MAX = 1_000_000
/** A text rule's regex source at most this many characters. */
export const LABELER_RULE_PATTERN_LENGTH_MAX = 512
/** Only this many UTF-16 units of a post's text are matched (a post's text is at most 3000 bytes; hostile records are cut). */
export const LABELER_RULE_TEXT_CHARS_MAX = 3_000
/** DIDs in all account rules together. */
export const LABELER_RULE_ACCOUNTS_MAX = 100_000
/** One post's text against every text rule may take this long; then the match worker is killed and restarted, no label. */
export const LABELER_RULE_MATCH_TIMEOUT_MS = 250
/** Texts waiting for the match worker. */
export const LABELER_RULE_QUEUE_MAX = 1_024
/** Admin createLabel/negateLabel JSON body. */
export const LABELER_ADMIN_BODY_BYTES_MAX = 16_384
/** The labeler's PLC identity check/update at start: this many tries. */
export const LABELER_PLC_TRIES_MAX = 3

// Feed generator service auth (feedgen/auth.ts)
/** DIDs whose last forced key refetch (a JWT signature failure) is remembered, to throttle refetches per DID. */
export const FEEDGEN_JWT_REFETCH_TRACKED_MAX = 10_000

// Account recovery and backups (cli/recovery/*, pds/migration/rotation-key-auth.ts)
/** `atfed account backup`: largest repo CAR fetched (full or `since` diff) and held in memory to merge and verify. */
export const BACKUP_REPO_CAR_BYTES_MAX = 1_073_741_824
/** `atfed account backup`: time limit for one getRepo transfer. */
export const BACKUP_REPO_TRANSFER_TIMEOUT_MS = 30 * 60 * 1000
/** `atfed account backup`: largest blob fetched (the reference distro's upload limit is 100 MiB). */
export const BACKUP_BLOB_BYTES_MAX = 104_857_600
/** `atfed account backup`: listBlobs page size (the lexicon's maximum). */
export const BACKUP_BLOBS_PAGE_LIMIT = 1_000
/** `atfed account backup`: listBlobs pages read at most (bounds a server that never ends its cursor). */
export const BACKUP_BLOB_PAGES_MAX = 10_000
/** A backup manifest (or recovery state file) larger than this is refused as corrupt. */
export const BACKUP_MANIFEST_BYTES_MAX = 64 * 1_048_576
/** A recovery-key file larger than this is refused (one private multikey and two comment lines). */
export const RECOVERY_KEY_FILE_BYTES_MAX = 4_096
/** Lifetime of the rotation-key-signed createAccount token `atfed account recover` mints. */
export const RECOVERY_CREATE_TOKEN_LIFETIME_S = 120
/** Least time between two redraws of a CLI progress line. */
export const PROGRESS_REDRAW_MS_MIN = 100
/** Lines a progress display writes at most when stderr is not a terminal (then one per tenth). */
export const PROGRESS_LOG_LINES_MAX = 10

// `atfed dev`, `atfed firehose`, `atfed car export|import` (cli/dev*.ts, cli/firehose.ts, cli/car-transfer.ts)
/** A service child of `atfed dev` must print its "listening on" line within this time, or the start fails. */
export const DEV_CHILD_READY_TIMEOUT_MS = 60_000
/** After SIGTERM a service child has this long to exit before it gets SIGKILL. */
export const DEV_CHILD_STOP_GRACE_MS = 10_000
/** Last output lines of each child kept to show when it fails to start or dies. */
export const DEV_CHILD_TAIL_LINES = 20
/** A child's output line is cut to this many characters when forwarded. */
export const DEV_LOG_LINE_CHARS_MAX = 4_096
/** DATA/dev.json larger than this is refused as corrupt. */
export const DEV_STATE_FILE_BYTES_MAX = 65_536
/** `atfed car export`: largest repo CAR written (streamed to disk, never held in memory). */
export const CAR_EXPORT_BYTES_MAX = 8 * 1_073_741_824
/** `atfed car export|import`: time limit for one transfer. */
export const CAR_TRANSFER_TIMEOUT_MS = 60 * 60 * 1000
/** `atfed firehose`: failed connection attempts in a row (with capped backoff) before it gives up. */
export const FIREHOSE_CLI_FAILURES_MAX = 8
/** `atfed`: longest error message printed on its one error line (a server may send a long one). */
export const CLI_ERROR_MESSAGE_CHARS_MAX = 2_000

// Web dashboards (relay/dashboard/*, pds/dashboard/*)
/** Relay dashboard: how often the per-host counters are sampled for events/s. */
export const RELAY_DASHBOARD_SAMPLE_INTERVAL_MS = 1_000
/** Relay dashboard: events/s are averaged over this window (window / interval + 1 samples are kept). */
export const RELAY_DASHBOARD_RATE_WINDOW_MS = 10_000
/** Relay dashboard: hosts `/api/stats` lists at most (hostname order; the total is reported beside). */
export const RELAY_DASHBOARD_HOSTS_MAX = 200
/** Relay dashboard: latest commits the page's live list keeps (older rows are removed). */
export const RELAY_DASHBOARD_COMMITS_MAX = 50
/** Relay dashboard: longest wait between two reconnects of the page's Jetstream socket. */
export const RELAY_DASHBOARD_RECONNECT_MS_MAX = 30_000
/** PDS admin page: block and blob rows read at most to sum storage bytes (past it the sums are flagged partial). */
export const PDS_ADMIN_STORAGE_SCAN_ROWS_MAX = 2_000_000
/** PDS admin page: a storage scan's result is reused this long (page refreshes do not rescan). */
export const PDS_ADMIN_STORAGE_CACHE_MS = 10_000
/** PDS admin page: files under the data directory counted at most for on-disk bytes. */
export const PDS_ADMIN_DISK_FILES_MAX = 100_000
/** PDS admin page: accounts and invite codes one table shows (one XRPC page). */
export const PDS_ADMIN_PAGE_ROWS_MAX = 100

// Relay cluster on NATS JetStream (relay/log/jetstream-*.ts, relay/cluster/*)
/** JetStream log: messages published back to back before waiting for their acks (one chained window). */
export const JETSTREAM_LOG_PUBLISH_WINDOW_EVENTS = 256
/** JetStream log: failed publish windows in a row (wrong last seq, timeouts) before the log gives up (fatal). */
export const JETSTREAM_LOG_PUBLISH_RETRIES_MAX = 50
/** JetStream log: pause after a failed publish window, times the failures in a row (capped at 1 s). */
export const JETSTREAM_LOG_PUBLISH_RETRY_MS = 20
/** JetStream log: the stream's de-duplication window; must exceed an ingest lease's expiry plus a re-verification. */
export const JETSTREAM_LOG_DUPLICATE_WINDOW_MS = 10 * 60 * 1000
/** JetStream log: messages one fetch of a replay or trim scan asks for. */
export const JETSTREAM_LOG_FETCH_EVENTS_MAX = 1_000
/** JetStream log: how long one fetch waits for messages the stream said it has. */
export const JETSTREAM_LOG_FETCH_TIMEOUT_MS = 5_000
/** JetStream log: how often the floor is re-read from the stream (another process may have trimmed). */
export const JETSTREAM_LOG_FLOOR_REFRESH_MS = 5_000
/** JetStream log: pause before the live reader follows the stream again after its consumer ended (node lost). */
export const JETSTREAM_LOG_LIVE_RETRY_MS = 250
/** JetStream log: how long one pull of the live reader lasts (heartbeats every half; two missed restart it). */
export const JETSTREAM_LOG_LIVE_PULL_MS = 2_000
/** JetStream log: missed heartbeats in a row after which the live reader drops its consumer and makes a new one. */
export const JETSTREAM_LOG_LIVE_HEARTBEATS_MISSED_MAX = 2
/** JetStream log: how often the live reader is checked for a stall (the stream known to be ahead, nothing arriving). */
export const JETSTREAM_LOG_LIVE_CHECK_MS = 1_000
/** JetStream log: stalled checks in a row after which the live reader's consumer is dropped and made again. */
export const JETSTREAM_LOG_LIVE_STALL_CHECKS = 2
/** JetStream log: longest wait for an acknowledged append to be seen by the live reader ('EventLogStalled' after). */
export const JETSTREAM_LOG_VISIBLE_WAIT_MS_MAX = 60_000
/** JetStream log: one attempt to make a consumer for a one-off read (takeover, catch-up) times out after this, and is made again: right after a NATS node is lost the server may place it on the dead node. */
export const JETSTREAM_CONSUMER_ATTEMPT_MS = 2_000
/** Relay cluster: a host lease lives this long without renewal; a dead ingest worker's hosts move after it. */
export const RELAY_CLUSTER_LEASE_TTL_MS = 10_000
/** Relay cluster: lease renewals (and lease rounds) per lease TTL. */
export const RELAY_CLUSTER_LEASE_ROUNDS_PER_TTL = 4
/** Relay cluster: longest catch-up with a bucket's last revision (start, lease taken), and longest read-back of a taken-over host's messages from the stream. */
export const RELAY_CLUSTER_CATCH_UP_MS_MAX = 10_000
/** Relay cluster: KV operations (get, put, create, update) time out after this. */
export const RELAY_CLUSTER_KV_TIMEOUT_MS = 5_000
/** Relay cluster: keys (accounts + hosts) waiting to be written to the KV buckets before the sequencer waits for them. */
export const RELAY_CLUSTER_STATE_PENDING_MAX = 100_000
/** Relay cluster: KV writes in flight at once from one process. */
export const RELAY_CLUSTER_STATE_WRITES_IN_FLIGHT = 256
/** Relay cluster: longest pause between retries of failed KV writes (doubling from 100 ms). */
export const RELAY_CLUSTER_STATE_RETRY_MS_MAX = 2_000
/** Relay cluster: how often each KV watch is checked (revisions it did not deliver are read from the bucket's stream; none delivered twice in a row: watched again). */
export const RELAY_CLUSTER_WATCH_CHECK_MS = 5_000
/** Relay cluster: stalled checks in a row after which a KV watch is started again from the next revision. */
export const RELAY_CLUSTER_WATCH_STALL_CHECKS = 2
/** Relay cluster: longest wait, when handing a host over, for its last state to reach the buckets. */
export const RELAY_CLUSTER_HANDOVER_DRAIN_MS_MAX = 10_000
/** Relay cluster: longest load of a taken-over host's account states by an ingest worker (about 0.1-0.3 ms per account on 2 busy cores: 120 s is ~400k accounts); its lease is renewed meanwhile. */
export const RELAY_CLUSTER_HOST_LOAD_MS_MAX = 120_000

// --- PDS: caches (pds/auth/token-cache.ts, pds/repo/block-cache.ts) ---
/** Verified access tokens whose claims a PDS keeps (least recently used dropped first; ~0.5 KB each). */
export const PDS_ACCESS_TOKEN_CACHE_ENTRIES_MAX = 10_000
/** Durable repo blocks (mostly MST nodes) a PDS keeps in memory for the next writes' reads (pds/repo/block-cache.ts). */
export const PDS_BLOCK_CACHE_BYTES_MAX = 16_000_000
