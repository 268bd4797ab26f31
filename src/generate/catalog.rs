//! The shop's catalogue (categories and products, generated from the seed) and the fixed tables
//! the simulation draws from: devices, locations, campaigns, search terms, list names.

use super::rng::Rng;
use super::write::{push_json_str, push_money};

const DEPARTMENTS: &[&str] = &[
    "Mens",
    "Womens",
    "Kids",
    "Home",
    "Sports",
    "Beauty",
    "Electronics",
    "Garden",
    "Toys",
    "Books",
    "Grocery",
    "Pets",
];

const AISLES: &[&str] = &[
    "Apparel",
    "Shoes",
    "Accessories",
    "Kitchen",
    "Outdoor",
    "Bags",
    "Audio",
    "Furniture",
    "Fitness",
    "Skincare",
    "Games",
    "Lighting",
];

const ADJECTIVES: &[&str] = &[
    "Classic", "Everyday", "Premium", "Organic", "Vintage", "Ultra", "Compact", "Deluxe", "Urban",
    "Trail", "Cozy", "Smart",
];

/// Product nouns per aisle (same order as `AISLES`); a `"` and a non-ASCII letter among them so
/// that every encoder's JSON escaping is exercised.
const NOUNS: &[&[&str]] = &[
    &["T-Shirt", "Hoodie", "Jacket", "Scarf"],
    &["Runner", "Sneaker", "Boot", "Sandal"],
    &["Cap", "Belt", "Wallet", "Sunglasses"],
    &["12\" Skillet", "Blender", "Mug", "Kettle"],
    &["Tent", "Lantern", "Hammock", "Water Bottle"],
    &["Tote", "Duffel", "Backpack", "Sling Bag"],
    &["Headphones", "Speaker", "Earbuds", "Turntable"],
    &["Chair", "Café Table", "Shelf", "Sofa"],
    &["Yoga Mat", "Dumbbell", "Jump Rope", "Foam Roller"],
    &["Serum", "Moisturizer", "Cleanser", "Sunscreen"],
    &["Board Game", "Puzzle", "Card Game", "Building Set"],
    &["Lamp", "Bulb", "String Lights", "Desk Light"],
];

const BRANDS: &[&str] = &[
    "Snowplow",
    "Northwind",
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
];

/// A category: its display name (`Mens/Apparel`), its URL slug (`mens-apparel`) and its aisle
/// (which decides what its products are called).
#[derive(Clone, Debug)]
pub(crate) struct Category {
    pub(crate) name: String,
    pub(crate) slug: String,
    aisle: usize,
}

/// A product, with its JSON entity body pre-rendered because products are written millions of
/// times and never change.
#[derive(Clone, Debug)]
pub(crate) struct Product {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) price_cents: u64,
    /// `{"id":..,"name":..,"category":..,"price":..,"currency":"USD","brand":..` without the
    /// closing brace, so per-event fields (quantity, position) can follow.
    pub(crate) json_open: Vec<u8>,
}

/// Categories and products.
#[derive(Clone, Debug)]
pub(crate) struct Catalog {
    pub(crate) categories: Vec<Category>,
    pub(crate) products: Vec<Product>,
    /// Product indices per category, for category pages and favourite-category browsing.
    pub(crate) by_category: Vec<Vec<u32>>,
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The `i`-th category name and its aisle: department/aisle pairs walked diagonally so that the
/// first categories spread over departments, then numbered once the pairs run out.
pub(crate) fn category_name(i: u32) -> (String, usize) {
    let d = DEPARTMENTS.len();
    let a = AISLES.len();
    let pairs = (d * a) as u32;
    let k = (i % pairs) as usize;
    let dept = DEPARTMENTS[k % d];
    let aisle = (k / d + k) % a;
    let name = if i < pairs {
        format!("{dept}/{}", AISLES[aisle])
    } else {
        format!("{dept}/{} {}", AISLES[aisle], i / pairs + 1)
    };
    (name, aisle)
}

impl Catalog {
    pub(crate) fn new(products: u32, categories: u32, rng: &mut Rng) -> Catalog {
        let categories: Vec<Category> = (0..categories)
            .map(|i| {
                let (name, aisle) = category_name(i);
                let slug = slug(&name);
                Category { name, slug, aisle }
            })
            .collect();
        let mut by_category = vec![Vec::new(); categories.len()];
        let mut list = Vec::with_capacity(products as usize);
        for i in 0..products {
            // Every category gets a product before any gets a second, then popularity is uneven.
            let category = if (i as usize) < categories.len() {
                i
            } else {
                let c = categories.len() as f64;
                ((rng.f64().powf(1.6) * c) as u32).min(categories.len() as u32 - 1)
            };
            // Log-uniform between $3 and $600; a third are whole dollars, many end in .99.
            let dollars = (3.0f64.ln() + rng.f64() * (600.0f64 / 3.0).ln()).exp();
            let price_cents = match rng.below(3) {
                0 => (dollars.round() as u64).max(1) * 100,
                1 => (dollars as u64) * 100 + 99,
                _ => (dollars * 100.0) as u64 + 1,
            };
            let nouns = NOUNS[categories[category as usize].aisle];
            let name = format!(
                "{} {}",
                ADJECTIVES[rng.below(ADJECTIVES.len() as u64) as usize],
                nouns[rng.below(nouns.len() as u64) as usize]
            );
            let brand = BRANDS[rng.below(BRANDS.len() as u64) as usize];
            let id = format!("P{i:05}");
            let mut json_open = Vec::with_capacity(160);
            json_open.extend_from_slice(b"{\"id\":");
            push_json_str(&mut json_open, &id);
            json_open.extend_from_slice(b",\"name\":");
            push_json_str(&mut json_open, &name);
            json_open.extend_from_slice(b",\"category\":");
            push_json_str(&mut json_open, &categories[category as usize].name);
            json_open.extend_from_slice(b",\"price\":");
            push_money(&mut json_open, price_cents);
            json_open.extend_from_slice(b",\"currency\":\"USD\",\"brand\":");
            push_json_str(&mut json_open, brand);
            by_category[category as usize].push(i);
            list.push(Product {
                id,
                name,
                price_cents,
                json_open,
            });
        }
        Catalog {
            categories,
            products: list,
            by_category,
        }
    }
}

/// Device class as YAUAA names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceClass {
    Desktop,
    Phone,
    Tablet,
}

/// A device/browser (or app) profile: the user agent and the YAUAA entity that matches it.
#[derive(Debug)]
pub(crate) struct Device {
    pub(crate) class: DeviceClass,
    pub(crate) useragent: &'static str,
    /// The YAUAA entity's `data` object.
    pub(crate) yauaa: &'static str,
    pub(crate) screen: (u32, u32),
    pub(crate) viewport: (u32, u32),
    /// For app profiles: `(app_id, v_tracker)`; `None` for browsers.
    pub(crate) app: Option<(&'static str, &'static str)>,
}

pub(crate) const DEVICES: &[Device] = &[
    Device {
        class: DeviceClass::Desktop,
        useragent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
        yauaa: r#"{"deviceClass":"Desktop","deviceName":"Apple Macintosh","deviceBrand":"Apple","operatingSystemClass":"Desktop","operatingSystemName":"Mac OS","operatingSystemVersion":">=10.15.7","layoutEngineClass":"Browser","layoutEngineName":"Blink","layoutEngineVersion":"134.0","agentClass":"Browser","agentName":"Chrome","agentVersion":"134.0.0.0","agentNameVersionMajor":"Chrome 134"}"#,
        screen: (2056, 1329),
        viewport: (2056, 1180),
        app: None,
    },
    Device {
        class: DeviceClass::Desktop,
        useragent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36 Edg/134.0.0.0",
        yauaa: r#"{"deviceClass":"Desktop","deviceName":"Desktop","deviceBrand":"Unknown","operatingSystemClass":"Desktop","operatingSystemName":"Windows NT","operatingSystemVersion":">=10","layoutEngineClass":"Browser","layoutEngineName":"Blink","layoutEngineVersion":"134.0","agentClass":"Browser","agentName":"Edge","agentVersion":"134.0.0.0","agentNameVersionMajor":"Edge 134"}"#,
        screen: (1920, 1080),
        viewport: (1903, 961),
        app: None,
    },
    Device {
        class: DeviceClass::Desktop,
        useragent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:129.0) Gecko/20100101 Firefox/129.0",
        yauaa: r#"{"deviceClass":"Desktop","deviceName":"Apple Macintosh","deviceBrand":"Apple","operatingSystemClass":"Desktop","operatingSystemName":"Mac OS","operatingSystemVersion":"10.15","layoutEngineClass":"Browser","layoutEngineName":"Gecko","layoutEngineVersion":"129.0","agentClass":"Browser","agentName":"Firefox","agentVersion":"129.0","agentNameVersionMajor":"Firefox 129"}"#,
        screen: (1901, 1229),
        viewport: (1794, 976),
        app: None,
    },
    Device {
        class: DeviceClass::Phone,
        useragent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        yauaa: r#"{"deviceClass":"Phone","deviceName":"Apple iPhone","deviceBrand":"Apple","operatingSystemClass":"Mobile","operatingSystemName":"iOS","operatingSystemVersion":"17.4","layoutEngineClass":"Browser","layoutEngineName":"AppleWebKit","layoutEngineVersion":"605.1.15","agentClass":"Browser","agentName":"Safari","agentVersion":"17.4","agentNameVersionMajor":"Safari 17"}"#,
        screen: (393, 852),
        viewport: (393, 659),
        app: None,
    },
    Device {
        class: DeviceClass::Phone,
        useragent: "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
        yauaa: r#"{"deviceClass":"Phone","deviceName":"Samsung SM-S918B","deviceBrand":"Samsung","operatingSystemClass":"Mobile","operatingSystemName":"Android","operatingSystemVersion":"14","layoutEngineClass":"Browser","layoutEngineName":"Blink","layoutEngineVersion":"124.0","agentClass":"Browser","agentName":"Chrome","agentVersion":"124.0.0.0","agentNameVersionMajor":"Chrome 124"}"#,
        screen: (384, 854),
        viewport: (384, 714),
        app: None,
    },
    Device {
        class: DeviceClass::Tablet,
        useragent: "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        yauaa: r#"{"deviceClass":"Tablet","deviceName":"Apple iPad","deviceBrand":"Apple","operatingSystemClass":"Mobile","operatingSystemName":"iPadOS","operatingSystemVersion":"17.4","layoutEngineClass":"Browser","layoutEngineName":"AppleWebKit","layoutEngineVersion":"605.1.15","agentClass":"Browser","agentName":"Safari","agentVersion":"17.4","agentNameVersionMajor":"Safari 17"}"#,
        screen: (820, 1180),
        viewport: (820, 1050),
        app: None,
    },
    Device {
        class: DeviceClass::Tablet,
        useragent: "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        yauaa: r#"{"deviceClass":"Tablet","deviceName":"Samsung SM-X710","deviceBrand":"Samsung","operatingSystemClass":"Mobile","operatingSystemName":"Android","operatingSystemVersion":"13","layoutEngineClass":"Browser","layoutEngineName":"Blink","layoutEngineVersion":"124.0","agentClass":"Browser","agentName":"Chrome","agentVersion":"124.0.0.0","agentNameVersionMajor":"Chrome 124"}"#,
        screen: (1280, 800),
        viewport: (1280, 715),
        app: None,
    },
    Device {
        class: DeviceClass::Phone,
        useragent: "LiveShop/3.2.1 (iPhone; iOS 17.4.1; Scale/3.00)",
        yauaa: r#"{"deviceClass":"Phone","deviceName":"Apple iPhone","deviceBrand":"Apple","operatingSystemClass":"Mobile","operatingSystemName":"iOS","operatingSystemVersion":"17.4.1","layoutEngineClass":"Unknown","layoutEngineName":"Unknown","layoutEngineVersion":"??","agentClass":"Mobile App","agentName":"LiveShop","agentVersion":"3.2.1","agentNameVersionMajor":"LiveShop 3"}"#,
        screen: (1179, 2556),
        viewport: (393, 852),
        app: Some(("live-shop-ios", "ios-6.0.2")),
    },
    Device {
        class: DeviceClass::Phone,
        useragent: "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A.240205.004)",
        yauaa: r#"{"deviceClass":"Phone","deviceName":"Google Pixel 8","deviceBrand":"Google","operatingSystemClass":"Mobile","operatingSystemName":"Android","operatingSystemVersion":"14","layoutEngineClass":"Unknown","layoutEngineName":"Unknown","layoutEngineVersion":"??","agentClass":"Mobile App","agentName":"Dalvik","agentVersion":"2.1.0","agentNameVersionMajor":"Dalvik 2"}"#,
        screen: (1080, 2400),
        viewport: (412, 915),
        app: Some(("live-shop-android", "andr-6.0.2")),
    },
];

/// Browser profiles by class, and the app profile a phone/tablet user of that OS would use.
pub(crate) const DESKTOPS: &[u8] = &[0, 1, 2];
pub(crate) const PHONES: &[u8] = &[3, 4];
pub(crate) const TABLETS: &[u8] = &[5, 6];

/// The native app profile matching a mobile browser profile (iOS app for Apple, Android app
/// otherwise).
pub(crate) fn app_for(device: u8) -> u8 {
    match device {
        3 | 5 => 7,
        _ => 8,
    }
}

/// A location as the IP lookup enrichment reports it.
#[derive(Debug)]
pub(crate) struct Geo {
    pub(crate) country: &'static str,
    pub(crate) region: &'static str,
    pub(crate) region_name: &'static str,
    pub(crate) city: &'static str,
    pub(crate) timezone: &'static str,
    pub(crate) lat: &'static str,
    pub(crate) lon: &'static str,
    pub(crate) lang: &'static str,
    /// Where a travelling user goes: another region, mostly of the same country.
    pub(crate) neighbour: u8,
    /// Share of users living here (relative weight).
    pub(crate) weight: u32,
}

pub(crate) const GEOS: &[Geo] = &[
    Geo {
        country: "US",
        region: "CA",
        region_name: "California",
        city: "San Francisco",
        timezone: "America/Los_Angeles",
        lat: "37.7749",
        lon: "-122.4194",
        lang: "en-US",
        neighbour: 1,
        weight: 18,
    },
    Geo {
        country: "US",
        region: "NY",
        region_name: "New York",
        city: "New York",
        timezone: "America/New_York",
        lat: "40.7128",
        lon: "-74.006",
        lang: "en-US",
        neighbour: 2,
        weight: 16,
    },
    Geo {
        country: "US",
        region: "TX",
        region_name: "Texas",
        city: "Austin",
        timezone: "America/Chicago",
        lat: "30.2672",
        lon: "-97.7431",
        lang: "en-US",
        neighbour: 0,
        weight: 10,
    },
    Geo {
        country: "GB",
        region: "ENG",
        region_name: "England",
        city: "London",
        timezone: "Europe/London",
        lat: "51.5072",
        lon: "-0.1276",
        lang: "en-GB",
        neighbour: 4,
        weight: 14,
    },
    Geo {
        country: "GB",
        region: "SCT",
        region_name: "Scotland",
        city: "Edinburgh",
        timezone: "Europe/London",
        lat: "55.9533",
        lon: "-3.1883",
        lang: "en-GB",
        neighbour: 3,
        weight: 4,
    },
    Geo {
        country: "DE",
        region: "BE",
        region_name: "Berlin",
        city: "Berlin",
        timezone: "Europe/Berlin",
        lat: "52.52",
        lon: "13.405",
        lang: "de-DE",
        neighbour: 6,
        weight: 9,
    },
    Geo {
        country: "DE",
        region: "BY",
        region_name: "Bavaria",
        city: "Munich",
        timezone: "Europe/Berlin",
        lat: "48.1351",
        lon: "11.582",
        lang: "de-DE",
        neighbour: 5,
        weight: 6,
    },
    Geo {
        country: "FR",
        region: "IDF",
        region_name: "Île-de-France",
        city: "Paris",
        timezone: "Europe/Paris",
        lat: "48.8566",
        lon: "2.3522",
        lang: "fr-FR",
        neighbour: 8,
        weight: 9,
    },
    Geo {
        country: "FR",
        region: "ARA",
        region_name: "Auvergne-Rhône-Alpes",
        city: "Lyon",
        timezone: "Europe/Paris",
        lat: "45.764",
        lon: "4.8357",
        lang: "fr-FR",
        neighbour: 7,
        weight: 4,
    },
    Geo {
        country: "NL",
        region: "NH",
        region_name: "North Holland",
        city: "Amsterdam",
        timezone: "Europe/Amsterdam",
        lat: "52.3676",
        lon: "4.9041",
        lang: "nl-NL",
        neighbour: 5,
        weight: 5,
    },
    Geo {
        country: "CA",
        region: "ON",
        region_name: "Ontario",
        city: "Toronto",
        timezone: "America/Toronto",
        lat: "43.6532",
        lon: "-79.3832",
        lang: "en-CA",
        neighbour: 1,
        weight: 5,
    },
];

/// A marketing campaign: `(utm_source, utm_medium, utm_campaign, utm_term, utm_content)`.
pub(crate) const CAMPAIGNS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "google",
        "cpc",
        "spring-sale-26",
        "running shoes",
        "ad_variant_1",
    ),
    ("google", "cpc", "brand-search", "live shop", ""),
    ("facebook", "paid_social", "new-arrivals", "", "carousel"),
    ("newsletter", "email", "weekly-2026-01", "", "hero_banner"),
    (
        "instagram",
        "paid_social",
        "winter-clearance",
        "",
        "story_2",
    ),
    ("bing", "cpc", "spring-sale-26", "kitchen", ""),
];

/// Search terms: plain, multi-word, with a quote and with non-ASCII text, so that URL and JSON
/// encoding both get exercised.
pub(crate) const SEARCH_TERMS: &[&str] = &[
    "shoes",
    "running shoes",
    "hoodie",
    "t-shirt",
    "backpack",
    "lamp",
    "headphones",
    "skillet",
    "yoga mat",
    "jacket",
    "gift",
    "sale",
    "kid's sneakers",
    "12\" skillet",
    "café table",
    "mug",
];

/// Merchandising list names besides category pages and search results.
pub(crate) const LISTS: &[&str] = &["Top this week", "New arrivals", "Recommended for you"];

/// The list name of search result lists.
pub(crate) const SEARCH_RESULTS: &str = "search results";

pub(crate) const PAYMENT_METHODS: &[&str] = &["credit_card", "paypal", "apple_pay", "gift_card"];

/// Structured events: `(se_category, se_action, se_label, se_property)`.
pub(crate) const STRUCT_EVENTS: &[(&str, &str, &str, &str)] = &[
    ("ui", "click", "size_guide", "modal"),
    ("ui", "scroll", "reviews", ""),
    ("newsletter", "subscribe", "footer", "email"),
    ("video", "play", "product_video", "autoplay"),
];

/// The shop's promotions: `(id, name, type)`. One has a `"` and one a non-ASCII letter, so that
/// the encoders escape promotion names too.
pub(crate) const PROMOTIONS: &[(&str, &str, &str)] = &[
    ("promo-spring-01", "Spring sale banner", "banner"),
    ("promo-spring-02", "Garden week", "banner"),
    ("promo-summer-01", "Summer essentials", "carousel"),
    ("promo-summer-02", "Beach days", "carousel"),
    ("promo-autumn-01", "Back to school", "banner"),
    ("promo-autumn-02", "Autumn layers", "tile"),
    ("promo-winter-01", "Winter warmers", "banner"),
    ("promo-winter-02", "Holiday gift guide", "carousel"),
    ("promo-flash-01", "Flash sale: 24 hours", "banner"),
    ("promo-flash-02", "The \"last chance\" weekend", "tile"),
    ("promo-member-01", "Members save 10 %", "banner"),
    (
        "promo-shipping-01",
        "Free delivery — orders over $50",
        "tile",
    ),
];

/// Link-click targets for the occasional non-ecommerce self-describing event.
pub(crate) const LINK_TARGETS: &[&str] = &[
    "https://help.shop.example.com/returns",
    "https://www.instagram.com/liveshop",
    "https://shop.example.com/stores?city=Berlin",
];

/// Appends `text` URL-encoded as a query value (`application/x-www-form-urlencoded`: space as
/// `+`), as a browser submits a search form.
pub(crate) fn push_query_value(buf: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => buf.push(b),
            b' ' => buf.push(b'+'),
            _ => {
                buf.push(b'%');
                buf.push(HEX[(b >> 4) as usize]);
                buf.push(HEX[(b & 15) as usize]);
            }
        }
    }
}
