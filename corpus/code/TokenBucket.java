import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A thread-safe token bucket rate limiter.
 *
 * <p>The bucket holds up to {@code capacity} tokens and is refilled at a steady
 * rate of {@code refillPerSecond} tokens per second. Each request takes one or
 * more tokens; when the bucket is empty, requests are refused (or wait) until
 * enough tokens have trickled back in. This allows short bursts of up to
 * {@code capacity} requests while enforcing the average rate over time, which
 * is why the algorithm is popular for protecting APIs from overload.
 *
 * <pre>{@code
 * TokenBucket limiter = new TokenBucket(10, 5.0); // bursts of 10, 5 req/s on average
 * if (limiter.tryAcquire()) {
 *     handle(request);
 * } else {
 *     respondWith(429, "Too Many Requests");
 * }
 * }</pre>
 */
public final class TokenBucket {

    private final long capacity;
    private final double refillPerNano;
    private final LongSupplier clock; // injectable for tests; returns nanoseconds

    private double tokens;
    private long lastRefill;

    /**
     * @param capacity        maximum number of tokens (the largest allowed burst)
     * @param refillPerSecond tokens added per second (the sustained rate)
     */
    public TokenBucket(long capacity, double refillPerSecond) {
        this(capacity, refillPerSecond, System::nanoTime);
    }

    TokenBucket(long capacity, double refillPerSecond, LongSupplier clock) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive");
        }
        if (refillPerSecond <= 0 || Double.isNaN(refillPerSecond)) {
            throw new IllegalArgumentException("refillPerSecond must be positive");
        }
        this.capacity = capacity;
        this.refillPerNano = refillPerSecond / TimeUnit.SECONDS.toNanos(1);
        this.clock = clock;
        this.tokens = capacity; // start full so the first burst is allowed
        this.lastRefill = clock.getAsLong();
    }

    /** Adds the tokens earned since the last refill, without exceeding capacity. */
    private void refill() {
        long now = clock.getAsLong();
        long elapsed = now - lastRefill;
        if (elapsed > 0) {
            tokens = Math.min(capacity, tokens + elapsed * refillPerNano);
            lastRefill = now;
        }
    }

    /** Takes one token if available. Never blocks. */
    public boolean tryAcquire() {
        return tryAcquire(1);
    }

    /** Takes {@code permits} tokens if they are all available. Never blocks. */
    public synchronized boolean tryAcquire(int permits) {
        if (permits <= 0 || permits > capacity) {
            throw new IllegalArgumentException("permits must be between 1 and capacity");
        }
        refill();
        if (tokens >= permits) {
            tokens -= permits;
            return true;
        }
        return false;
    }

    /**
     * How long a caller would have to wait, in nanoseconds, before
     * {@code permits} tokens are available. Zero means "now".
     */
    public synchronized long nanosUntilAvailable(int permits) {
        refill();
        double missing = permits - tokens;
        return missing <= 0 ? 0 : (long) Math.ceil(missing / refillPerNano);
    }

    /** Blocks until one token is available, then takes it. */
    public void acquire() throws InterruptedException {
        while (!tryAcquire()) {
            long waitNanos = Math.max(nanosUntilAvailable(1), 1_000L);
            TimeUnit.NANOSECONDS.sleep(waitNanos);
        }
    }

    /** Small self-check using a fake clock: run with {@code java TokenBucket.java}. */
    public static void main(String[] args) {
        long[] fakeNow = {0L};
        TokenBucket bucket = new TokenBucket(3, 1.0, () -> fakeNow[0]);
        int allowed = 0;
        for (int i = 0; i < 5; i++) {
            if (bucket.tryAcquire()) {
                allowed++;
            }
        }
        System.out.println("burst allowed: " + allowed + " of 5"); // 3 of 5
        fakeNow[0] += TimeUnit.SECONDS.toNanos(2); // two seconds pass
        System.out.println("after 2 s: " + bucket.tryAcquire() + ", " + bucket.tryAcquire()
                + ", " + bucket.tryAcquire()); // true, true, false
    }
}
