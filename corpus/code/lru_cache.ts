/**
 * lru_cache.ts - a small least-recently-used (LRU) cache.
 *
 * An LRU cache holds at most `capacity` entries. When it is full and a new key
 * is added, the entry that was used least recently is evicted. This is a good
 * policy for caching expensive lookups such as rendered pages or API responses,
 * because recently used items tend to be used again soon.
 *
 * The implementation relies on a JavaScript `Map` remembering insertion order:
 * deleting and re-inserting a key moves it to the end, so the first key in the
 * map is always the least recently used one. Every operation is O(1).
 */

export interface LruOptions<K, V> {
  /** Maximum number of entries kept. Must be at least 1. */
  capacity: number;
  /** Optional time-to-live in milliseconds; expired entries are treated as missing. */
  ttlMs?: number;
  /** Called with each entry that is evicted to make room, e.g. to close handles. */
  onEvict?: (key: K, value: V) => void;
}

interface Entry<V> {
  value: V;
  expiresAt: number; // Infinity when there is no TTL
}

export class LruCache<K, V> {
  private readonly map = new Map<K, Entry<V>>();
  private readonly capacity: number;
  private readonly ttlMs?: number;
  private readonly onEvict?: (key: K, value: V) => void;
  private hits = 0;
  private misses = 0;

  constructor(options: LruOptions<K, V>) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${options.capacity}`);
    }
    this.capacity = options.capacity;
    this.ttlMs = options.ttlMs;
    this.onEvict = options.onEvict;
  }

  /** Number of entries currently stored (including any not yet noticed as expired). */
  get size(): number {
    return this.map.size;
  }

  /** Return the value for `key` and mark it as most recently used. */
  get(key: K, now: number = Date.now()): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined || entry.expiresAt <= now) {
      if (entry !== undefined) this.map.delete(key); // lazily drop expired entry
      this.misses++;
      return undefined;
    }
    // Move to the most-recently-used end.
    this.map.delete(key);
    this.map.set(key, entry);
    this.hits++;
    return entry.value;
  }

  /** Insert or replace `key`, evicting the least recently used entry if full. */
  set(key: K, value: V, now: number = Date.now()): this {
    const expiresAt = this.ttlMs === undefined ? Infinity : now + this.ttlMs;
    this.map.delete(key);
    this.map.set(key, { value, expiresAt });
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value as K;
      const evicted = this.map.get(oldest)!;
      this.map.delete(oldest);
      this.onEvict?.(oldest, evicted.value);
    }
    return this;
  }

  /** Return the cached value, or compute it with `load`, store it and return it. */
  async getOrLoad(key: K, load: (key: K) => Promise<V>): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) return cached;
    const value = await load(key);
    this.set(key, value);
    return value;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Fraction of `get` calls that found a live entry, between 0 and 1. */
  hitRate(): number {
    const total = this.hits + this.misses;
    return total === 0 ? 0 : this.hits / total;
  }
}

// Example:
//   const users = new LruCache<string, User>({ capacity: 500, ttlMs: 60_000 });
//   const user = await users.getOrLoad(id, (id) => api.fetchUser(id));
