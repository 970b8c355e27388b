//! One result vocabulary for every analysis: a bracket around the quantity asked for (a certified
//! bound, the value at a checked witness, the solver's uncertified word, a note) and its status.

use serde::{Deserialize, Serialize};

/// How far an answer got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The certified bound and a checked witness meet within the tolerance.
    Proved,
    /// The solver finished and a checked witness attains its optimum (exact by the solver's
    /// word, which has no checkable proof).
    Exact,
    /// Only the bracket [certified, attained] is known (time-out, no witness, solver failure).
    Interval,
    /// The region holds no input the question is about (proved), so the quantity is unbounded.
    Vacuous,
}

/// What is known of one quantity: the certified bound on one side, the value at a checked
/// witness on the other (the true value lies between), the solver's uncertified word, and a note
/// saying why the bracket is not closed when it is not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bracket {
    /// Proved: the true value is at or beyond it (≤ a minimum, ≥ a maximum).
    #[serde(deserialize_with = "nan_if_null")]
    pub certified: f64,
    /// The value at the best checked witness (re-executed through the IR and tract), if any.
    pub attained: Option<f64>,
    /// The value the solver claimed (not trusted, not a proof).
    pub solver_value: Option<f64>,
    pub status: Status,
    pub note: Option<String>,
}

impl Bracket {
    /// Only the certified end is known, nothing else yet.
    pub fn open(certified: f64) -> Bracket {
        Bracket { certified, attained: None, solver_value: None, status: Status::Interval, note: None }
    }

    /// Whether the two ends are known and within `tolerance` of each other.
    pub fn meets(&self, tolerance: f64) -> bool {
        self.attained.is_some_and(|a| (a - self.certified).abs() <= tolerance)
    }

    /// Marks the bracket proved when its two ends are within `tolerance` (an open one only).
    pub fn close_within(&mut self, tolerance: f64) {
        if self.status == Status::Interval && self.meets(tolerance) {
            self.status = Status::Proved;
        }
    }
}

/// Reads a number that JSON could only write as `null` (NaN, ±∞) back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}
