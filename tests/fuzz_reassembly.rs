//! The `reassembly` fuzz target's seed corpus (fuzz/corpus/reassembly),
//! made here in the target's input language and checked against its
//! property, with a few thousand damaged copies, so CI runs the property
//! where cargo-fuzz is not installed. A missing seed file is written (then
//! checked in); a stale one fails.

#[path = "../fuzz/src/reassembly.rs"]
mod reassembly;

use std::path::Path;

use reassembly::{Seen, check_reassembly, op};

/// (name, input, what the run must see).
fn seeds() -> Vec<(&'static str, Vec<u8>, Seen)> {
    let cat = |ops: &[[u8; 6]]| ops.concat();
    vec![
        (
            "in-order",
            // 1480-byte fragments (185 units) of a 3000-byte datagram.
            cat(&[
                op(0, false, 0, 185, true, false, true, 0),
                op(0, false, 185, 185, true, false, true, 0),
                op(0, false, 370, 40, false, false, false, 0),
            ]),
            Seen {
                complete: 1,
                ..Seen::default()
            },
        ),
        (
            "reversed-and-duplicated",
            cat(&[
                op(1, false, 40, 17, false, false, false, 0),
                op(1, false, 20, 20, true, false, true, 0),
                op(1, false, 20, 20, true, false, true, 0),
                op(1, false, 0, 20, true, false, true, 0),
            ]),
            Seen {
                complete: 1,
                ..Seen::default()
            },
        ),
        (
            "conflicting-overlap",
            cat(&[
                op(2, false, 0, 32, true, false, true, 0),
                op(2, false, 16, 32, true, true, true, 0),
                op(2, false, 32, 8, false, false, false, 0),
            ]),
            Seen {
                overlaps: 1,
                ..Seen::default()
            },
        ),
        (
            "timeout",
            cat(&[
                op(3, true, 0, 8, true, false, true, 0),
                // 15 s later: the first fragment is gone.
                op(3, true, 1, 8, false, false, false, 150),
            ]),
            Seen {
                timed_out: 1,
                ..Seen::default()
            },
        ),
        (
            "memory-bound",
            // Three datagrams of 2400 bytes in a 6000-byte pool: their
            // first 2000 bytes fill it, so the first to grow is dropped.
            cat(&[
                op(0, false, 0, 250, true, false, true, 0),
                op(1, false, 0, 250, true, false, true, 0),
                op(2, false, 0, 250, true, false, true, 0),
                op(0, false, 250, 50, false, false, true, 0),
                op(1, false, 250, 50, false, false, true, 0),
                op(2, false, 250, 50, false, false, true, 0),
            ]),
            Seen {
                complete: 2,
                no_space: 1,
                ..Seen::default()
            },
        ),
        (
            "slot-bound",
            cat(&[
                op(0, false, 0, 1, true, false, true, 0),
                op(1, false, 0, 1, true, false, true, 0),
                op(2, false, 0, 1, true, false, true, 0),
                op(3, false, 0, 1, true, false, true, 0),
            ]),
            Seen {
                no_space: 1,
                ..Seen::default()
            },
        ),
    ]
}

#[test]
fn seed_corpus_is_current_and_reaches_every_rule() {
    let dir = Path::new("fuzz/corpus/reassembly");
    std::fs::create_dir_all(dir).unwrap();
    for (name, input, expected) in seeds() {
        assert_eq!(check_reassembly(&input), expected, "{name}");
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(existing) => assert_eq!(existing, input, "{} is stale", path.display()),
            Err(_) => std::fs::write(&path, &input).unwrap(),
        }
    }
}

/// xorshift64*: deterministic damage.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn property_holds_on_damaged_and_random_inputs() {
    let seeds = seeds();
    let mut rng = Rng(0x0f4a_65e5);
    let mut total = Seen::default();
    for round in 0..5000 {
        let mut input = if round % 2 == 0 {
            seeds[round % seeds.len()].1.clone()
        } else {
            // Random operations in small ranges, so datagrams complete.
            let mut input = Vec::new();
            for _ in 0..1 + rng.next() % 24 {
                let units = (rng.next() % 12) as u16;
                input.extend_from_slice(&op(
                    rng.next() as u8,
                    rng.next() % 4 == 0,
                    units,
                    1 + (rng.next() % 3) as u8,
                    rng.next() % 3 != 0,
                    rng.next() % 10 == 0,
                    true,
                    if rng.next() % 16 == 0 { 60 } else { 0 },
                ));
            }
            input
        };
        for _ in 0..rng.next() % 3 {
            if input.is_empty() {
                break;
            }
            let at = (rng.next() as usize) % input.len();
            input[at] = rng.next() as u8;
        }
        let seen = check_reassembly(&input);
        total.complete += seen.complete;
        total.overlaps += seen.overlaps;
        total.no_space += seen.no_space;
        total.timed_out += seen.timed_out;
    }
    // Every rule is exercised many times over.
    assert!(total.complete > 1000, "{total:?}");
    assert!(total.overlaps > 100, "{total:?}");
    assert!(total.no_space > 100, "{total:?}");
    assert!(total.timed_out > 100, "{total:?}");
}
