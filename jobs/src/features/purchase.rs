//! Purchase lane: orders per user. An order is a `transaction` event (its `revenue`), and, when
//! configured, a `checkout_step` event of the given step (its cart entity's `total_value`).

use operators::changes::Rendered;
use operators::count::decrement;
use operators::rolling::{Aggregate, WindowLog};
use operators::symbols::Symbols;
use operators::Order;
use serde::{Deserialize, Serialize};

use super::format;
use crate::event::{EventKind, Price, ShopperEvent};

/// Feature names, in render order.
pub const FEATURES: [&str; 3] = ["orders_count", "order_value", "avg_order_value"];

/// One order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    /// Order value; 0 when the event carries none.
    pub value: Price,
}

/// The lane record of an event, if it belongs to the purchase lane. `checkout_step` makes
/// checkout steps of that step count as orders.
pub fn entry(event: &ShopperEvent, checkout_step: Option<u32>) -> Option<OrderPlaced> {
    let value = match event.kind {
        EventKind::Transaction => event.revenue,
        EventKind::CheckoutStep
            if checkout_step.is_some() && event.checkout_step == checkout_step =>
        {
            event.cart_total
        }
        _ => return None,
    };
    Some(OrderPlaced {
        value: value.unwrap_or_default(),
    })
}

/// Incremental purchase-lane aggregate of one window.
#[derive(Default)]
pub struct PurchaseAggregate {
    orders: u64,
    value: i128,
}

impl Aggregate for PurchaseAggregate {
    type Spec = ();
    type Entry = OrderPlaced;
    type Stored = OrderPlaced;

    fn new(_spec: &()) -> Self {
        Self::default()
    }

    fn store(entry: OrderPlaced, _symbols: &mut Symbols) -> OrderPlaced {
        entry
    }

    fn unstore(stored: &OrderPlaced, _symbols: &Symbols) -> OrderPlaced {
        stored.clone()
    }

    fn release(_stored: &OrderPlaced, _symbols: &mut Symbols) {}

    fn insert(&mut self, _order: Order, entry: &OrderPlaced) {
        self.orders += 1;
        self.value += entry.value.0 as i128;
    }

    fn remove(&mut self, _order: Order, entry: &OrderPlaced) {
        decrement(&mut self.orders);
        self.value -= entry.value.0 as i128;
    }

    fn render(
        &self,
        _window: WindowLog<'_, OrderPlaced>,
        _symbols: &Symbols,
        values: &mut Rendered,
    ) {
        values.set(0, self.orders);
        format::write_mean_price(values.slot(1), self.value, 1);
        format::write_mean_price(values.slot(2), self.value, self.orders);
    }
}
