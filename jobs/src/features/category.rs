//! Category lane: category views per user (a product view counts for its product's category,
//! a list view for its list name).

use operators::changes::Rendered;
use operators::count::decrement;
use operators::rolling::{Aggregate, WindowLog};
use operators::symbols::{Sym, SymMap, Symbols};
use operators::Order;
use serde::{Deserialize, Serialize};

use crate::event::{EventKind, ShopperEvent};

/// Feature names, in render order.
pub const FEATURES: [&str; 3] = ["top_category", "unique_categories", "category_view_count"];

/// One category view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryView {
    /// The category (or list name).
    pub category: String,
}

/// The lane record of an event, if it belongs to the category lane.
pub fn entry(event: &ShopperEvent) -> Option<CategoryView> {
    let category = match event.kind {
        EventKind::ProductView => event.products.first()?.category.clone()?,
        EventKind::ListView => event.list_name.clone()?,
        _ => return None,
    };
    Some(CategoryView { category })
}

/// Incremental category-lane aggregate of one window.
#[derive(Default)]
pub struct CategoryAggregate {
    views: u64,
    counts: SymMap<u64>,
}

impl Aggregate for CategoryAggregate {
    type Spec = ();
    type Entry = CategoryView;
    type Stored = Sym;

    fn new(_spec: &()) -> Self {
        Self::default()
    }

    fn store(entry: CategoryView, symbols: &mut Symbols) -> Sym {
        symbols.intern(&entry.category)
    }

    fn unstore(stored: &Sym, symbols: &Symbols) -> CategoryView {
        CategoryView {
            category: symbols.text(*stored).to_string(),
        }
    }

    fn release(stored: &Sym, symbols: &mut Symbols) {
        symbols.release(*stored);
    }

    fn insert(&mut self, _order: Order, category: &Sym) {
        self.views += 1;
        *self.counts.entry(*category).or_default() += 1;
    }

    fn remove(&mut self, _order: Order, category: &Sym) {
        decrement(&mut self.views);
        if let Some(count) = self.counts.get_mut(category) {
            decrement(count);
            if *count == 0 {
                self.counts.remove(category);
            }
        }
    }

    fn render(&self, _window: WindowLog<'_, Sym>, symbols: &Symbols, values: &mut Rendered) {
        // Most views first, then the lexicographically smallest name.
        let top = self
            .counts
            .iter()
            .map(|(&sym, &count)| (count, symbols.text(sym)))
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map(|(_, name)| name);
        values.set_str(0, top);
        values.set(1, self.counts.len());
        values.set(2, self.views);
    }
}
