//! Product lane: product views per user.

use std::collections::{BTreeMap, VecDeque};

use operators::changes::Rendered;
use operators::count::decrement;
use operators::rolling::{Aggregate, WindowLog};
use operators::symbols::{Sym, SymMap, Symbols};
use operators::Order;
use serde::{Deserialize, Serialize};

use super::format;
use crate::event::{EventKind, Price, ShopperEvent};

/// Feature names, in render order.
pub const FEATURES: [&str; 5] = [
    "product_view_count",
    "product_views",
    "avg_viewed_price",
    "price_range_viewed",
    "return_view_count",
];

/// One product view: the event's first product entity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    /// Product id.
    pub product: String,
    /// Its price in this view, if given.
    pub price: Option<Price>,
}

/// The lane record of an event, if it belongs to the product lane.
pub fn entry(event: &ShopperEvent) -> Option<ProductView> {
    if event.kind != EventKind::ProductView {
        return None;
    }
    let product = event.products.first()?;
    Some(ProductView {
        product: product.id.clone(),
        price: product.price,
    })
}

/// A product view as the window holds it.
pub struct StoredView {
    product: Sym,
    price: Option<Price>,
}

/// Views of one product in the window, oldest first (records leave oldest first).
#[derive(Default)]
struct Viewed {
    views: VecDeque<(Order, Option<Price>)>,
}

/// Incremental product-lane aggregate of one window.
#[derive(Default)]
pub struct ProductAggregate {
    views: u64,
    products: SymMap<Viewed>,
    /// Products viewed at least twice.
    returning: u64,
    /// Sum and count of the earliest-view prices of distinct products that have one.
    first_price_sum: i128,
    first_price_count: u64,
    /// Multiset of all view prices.
    prices: BTreeMap<Price, u64>,
}

impl ProductAggregate {
    fn first_price(viewed: &Viewed) -> Option<Price> {
        viewed.views.front().and_then(|&(_, p)| p)
    }

    fn adjust_first(&mut self, price: Option<Price>, sign: i128) {
        if let Some(p) = price {
            self.first_price_sum += sign * p.0 as i128;
            if sign > 0 {
                self.first_price_count += 1;
            } else {
                decrement(&mut self.first_price_count);
            }
        }
    }
}

impl Aggregate for ProductAggregate {
    type Spec = ();
    type Entry = ProductView;
    type Stored = StoredView;

    fn new(_spec: &()) -> Self {
        Self::default()
    }

    fn store(entry: ProductView, symbols: &mut Symbols) -> StoredView {
        StoredView {
            product: symbols.intern(&entry.product),
            price: entry.price,
        }
    }

    fn unstore(stored: &StoredView, symbols: &Symbols) -> ProductView {
        ProductView {
            product: symbols.text(stored.product).to_string(),
            price: stored.price,
        }
    }

    fn release(stored: &StoredView, symbols: &mut Symbols) {
        symbols.release(stored.product);
    }

    fn insert(&mut self, order: Order, entry: &StoredView) {
        self.views += 1;
        if let Some(p) = entry.price {
            *self.prices.entry(p).or_default() += 1;
        }
        let viewed = self.products.entry(entry.product).or_default();
        let before = Self::first_price(viewed);
        let had = viewed.views.len();
        let at = viewed.views.partition_point(|&(o, _)| o < order);
        viewed.views.insert(at, (order, entry.price));
        let after = Self::first_price(viewed);
        let changed_first = at == 0;
        if had == 1 {
            self.returning += 1;
        }
        if changed_first {
            if had > 0 {
                self.adjust_first(before, -1);
            }
            self.adjust_first(after, 1);
        }
    }

    fn remove(&mut self, order: Order, entry: &StoredView) {
        decrement(&mut self.views);
        if let Some(p) = entry.price {
            if let Some(count) = self.prices.get_mut(&p) {
                decrement(count);
                if *count == 0 {
                    self.prices.remove(&p);
                }
            }
        }
        let Some(viewed) = self.products.get_mut(&entry.product) else {
            return;
        };
        let before = Self::first_price(viewed);
        let Some(at) = viewed.views.iter().position(|&(o, _)| o == order) else {
            return;
        };
        viewed.views.remove(at);
        let remaining = viewed.views.len();
        let after = Self::first_price(viewed);
        if remaining == 1 {
            decrement(&mut self.returning);
        }
        if at == 0 {
            self.adjust_first(before, -1);
            if remaining > 0 {
                self.adjust_first(after, 1);
            }
        }
        if remaining == 0 {
            self.products.remove(&entry.product);
        }
    }

    fn render(
        &self,
        _window: WindowLog<'_, StoredView>,
        _symbols: &Symbols,
        values: &mut Rendered,
    ) {
        values.set(0, self.products.len());
        values.set(1, self.views);
        if self.first_price_count > 0 {
            format::write_mean_price(values.slot(2), self.first_price_sum, self.first_price_count);
        }
        if let (Some(&min), Some(&max)) =
            (self.prices.keys().next(), self.prices.keys().next_back())
        {
            let range = values.slot(3);
            format::write_price(range, min);
            range.push('-');
            format::write_price(range, max);
        }
        values.set(4, self.returning);
    }
}
