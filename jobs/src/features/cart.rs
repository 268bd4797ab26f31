//! Cart lane: cart adds and removes per user.

use operators::changes::Rendered;
use operators::count::decrement;
use operators::rolling::{Aggregate, WindowLog};
use operators::symbols::Symbols;
use operators::Order;
use serde::{Deserialize, Serialize};

use super::format;
use crate::event::{EventKind, Price, ShopperEvent};

/// Feature names, in render order.
pub const FEATURES: [&str; 4] = [
    "cart_add_count",
    "cart_remove_count",
    "cart_update_frequency",
    "cart_value",
];

/// One cart change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartChange {
    /// An add (else a remove).
    pub add: bool,
    /// The cart entity's `total_value` after the change, if the event carried one.
    pub total: Option<Price>,
}

/// The lane record of an event, if it belongs to the cart lane.
pub fn entry(event: &ShopperEvent) -> Option<CartChange> {
    let add = match event.kind {
        EventKind::AddToCart => true,
        EventKind::RemoveFromCart => false,
        _ => return None,
    };
    Some(CartChange {
        add,
        total: event.cart_total,
    })
}

/// Incremental cart-lane aggregate of one window.
#[derive(Default)]
pub struct CartAggregate {
    adds: u64,
    removes: u64,
}

impl Aggregate for CartAggregate {
    type Spec = ();
    type Entry = CartChange;
    type Stored = CartChange;

    fn new(_spec: &()) -> Self {
        Self::default()
    }

    fn store(entry: CartChange, _symbols: &mut Symbols) -> CartChange {
        entry
    }

    fn unstore(stored: &CartChange, _symbols: &Symbols) -> CartChange {
        stored.clone()
    }

    fn release(_stored: &CartChange, _symbols: &mut Symbols) {}

    fn insert(&mut self, _order: Order, entry: &CartChange) {
        if entry.add {
            self.adds += 1;
        } else {
            self.removes += 1;
        }
    }

    fn remove(&mut self, _order: Order, entry: &CartChange) {
        if entry.add {
            decrement(&mut self.adds);
        } else {
            decrement(&mut self.removes);
        }
    }

    fn render(&self, window: WindowLog<'_, CartChange>, _symbols: &Symbols, values: &mut Rendered) {
        values.set(0, self.adds);
        values.set(1, self.removes);
        values.set(2, self.adds + self.removes);
        // The latest cart event that carried a cart entity; nearly always the latest one.
        if let Some(total) = window.latest_first().find_map(|(_, change)| change.total) {
            format::write_price(values.slot(3), total);
        }
    }
}
