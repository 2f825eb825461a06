//! A fixed-capacity ring buffer (circular queue).
//!
//! A ring buffer stores up to `capacity` items in a pre-allocated array and
//! wraps around when it reaches the end, so pushing and popping never allocate
//! or move existing items. Ring buffers are common in audio processing,
//! logging ("keep the last 1,000 lines") and producer/consumer queues.
//!
//! This version can either reject new items when full ([`RingBuffer::push`])
//! or overwrite the oldest item ([`RingBuffer::push_overwrite`]).

use std::fmt;

/// A first-in, first-out queue with a fixed capacity.
pub struct RingBuffer<T> {
    slots: Vec<Option<T>>,
    head: usize, // index of the oldest item
    len: usize,
}

/// Returned by [`RingBuffer::push`] when the buffer is full; gives the item back.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> RingBuffer<T> {
    /// Creates an empty buffer that can hold `capacity` items.
    ///
    /// # Panics
    /// Panics if `capacity` is zero.
    pub fn with_capacity(capacity: usize) -> Self {
        assert!(capacity > 0, "capacity must be non-zero");
        let mut slots = Vec::with_capacity(capacity);
        slots.resize_with(capacity, || None);
        RingBuffer { slots, head: 0, len: 0 }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == self.capacity()
    }

    /// Physical index of the `i`-th item counted from the oldest.
    fn index(&self, i: usize) -> usize {
        (self.head + i) % self.capacity()
    }

    /// Appends an item, or returns it inside `Err(Full(item))` if there is no room.
    /// Ownership of the item moves into the buffer only on success.
    pub fn push(&mut self, item: T) -> Result<(), Full<T>> {
        if self.is_full() {
            return Err(Full(item));
        }
        let tail = self.index(self.len);
        self.slots[tail] = Some(item);
        self.len += 1;
        Ok(())
    }

    /// Appends an item, overwriting and returning the oldest one if full.
    pub fn push_overwrite(&mut self, item: T) -> Option<T> {
        if self.is_full() {
            let old = self.slots[self.head].replace(item);
            self.head = self.index(1);
            old
        } else {
            // Cannot fail: we just checked there is room.
            let _ = self.push(item);
            None
        }
    }

    /// Removes and returns the oldest item.
    pub fn pop(&mut self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let item = self.slots[self.head].take();
        self.head = self.index(1);
        self.len -= 1;
        item
    }

    /// Borrows the oldest item without removing it.
    pub fn peek(&self) -> Option<&T> {
        if self.is_empty() {
            None
        } else {
            self.slots[self.head].as_ref()
        }
    }

    /// Iterates from the oldest item to the newest, borrowing each one.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.len).filter_map(move |i| self.slots[self.index(i)].as_ref())
    }
}

impl<T: fmt::Debug> fmt::Debug for RingBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_and_wraparound() {
        let mut rb = RingBuffer::with_capacity(3);
        rb.push(1).unwrap();
        rb.push(2).unwrap();
        assert_eq!(rb.pop(), Some(1));
        rb.push(3).unwrap();
        rb.push(4).unwrap(); // wraps around to slot 0
        assert_eq!(rb.push(5), Err(Full(5)));
        assert_eq!(rb.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
    }

    #[test]
    fn overwrite_keeps_the_newest() {
        let mut log = RingBuffer::with_capacity(2);
        assert_eq!(log.push_overwrite("a"), None);
        assert_eq!(log.push_overwrite("b"), None);
        assert_eq!(log.push_overwrite("c"), Some("a"));
        assert_eq!(format!("{log:?}"), r#"["b", "c"]"#);
        assert_eq!(log.peek(), Some(&"b"));
    }
}
