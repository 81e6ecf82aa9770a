use super::*;

use crate::test_util::unhex as hex;

fn block(d: &mut Decoder, s: &str) -> Result<Vec<(String, String)>, HpackError> {
    let mut out = Vec::new();
    d.decode(&hex(s), &mut out)?;
    Ok(out
        .into_iter()
        .map(|f| {
            let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
            (text(f.name), text(f.value))
        })
        .collect())
}

fn fields(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn table(d: &Decoder) -> Vec<(String, String)> {
    d.table
        .iter()
        .map(|f| {
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
            (text(&f.name), text(&f.value))
        })
        .collect()
}

const REQ1: [(&str, &str); 4] = [
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];

/// RFC 7541 C.3 (without Huffman) and C.4 (with): three requests on one
/// connection, each reusing the table the last one filled.
#[test]
fn rfc_7541_c3_c4_requests() {
    for blocks in [
        [
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ],
        [
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ],
    ] {
        let mut d = Decoder::default();
        assert_eq!(block(&mut d, blocks[0]).unwrap(), fields(&REQ1));
        assert_eq!(d.size, 57);
        let mut second = REQ1.to_vec();
        second.push(("cache-control", "no-cache"));
        assert_eq!(block(&mut d, blocks[1]).unwrap(), fields(&second));
        assert_eq!(
            block(&mut d, blocks[2]).unwrap(),
            fields(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value"),
            ])
        );
        assert_eq!(
            table(&d),
            fields(&[
                ("custom-key", "custom-value"),
                ("cache-control", "no-cache"),
                (":authority", "www.example.com"),
            ])
        );
        assert_eq!(d.size, 164);
    }
}

/// RFC 7541 C.5: responses through a 256-byte table, entries evicted as
/// new ones come.
#[test]
fn rfc_7541_c5_responses_with_eviction() {
    let mut d = Decoder {
        max_size: 256,
        ..Decoder::default()
    };
    let date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
    let loc = "https://www.example.com";
    let got = block(
        &mut d,
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
         6c65 2e63 6f6d",
    );
    assert_eq!(
        got.unwrap(),
        fields(&[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", date1),
            ("location", loc),
        ])
    );
    assert_eq!(d.size, 222);
    // 307 evicts 302.
    let got = block(&mut d, "4803 3330 37c1 c0bf").unwrap();
    assert_eq!(
        got,
        fields(&[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", date1),
            ("location", loc),
        ])
    );
    assert_eq!(table(&d)[0], (":status".into(), "307".into()));
    assert_eq!(d.size, 222);
    let got = block(
        &mut d,
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
         3d31",
    );
    let cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
    assert_eq!(
        got.unwrap(),
        fields(&[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", loc),
            ("content-encoding", "gzip"),
            ("set-cookie", cookie),
        ])
    );
    assert_eq!(
        table(&d),
        fields(&[
            ("set-cookie", cookie),
            ("content-encoding", "gzip"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ])
    );
    assert_eq!(d.size, 215);
}

#[test]
fn integers_of_rfc_7541_c1() {
    // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337; C.1.3: 42 with 8 bits.
    let mut b: &[u8] = &[0x0a];
    assert_eq!(integer(&mut b, 5), Ok(10));
    let mut b: &[u8] = &[0x1f, 0x9a, 0x0a];
    assert_eq!(integer(&mut b, 5), Ok(1337));
    assert!(b.is_empty());
    let mut b: &[u8] = &[0x2a];
    assert_eq!(integer(&mut b, 8), Ok(42));
    // Past 32 bits, and cut short.
    let mut b: &[u8] = &[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f];
    assert_eq!(integer(&mut b, 5), Err(HpackError::IntegerOverflow));
    let mut b: &[u8] = &[0x1f, 0xff];
    assert_eq!(integer(&mut b, 5), Err(HpackError::Truncated));
}

#[test]
fn never_indexed_and_without_indexing_leave_the_table_alone() {
    // C.2.2 (without indexing, indexed name :path) and C.2.3 (never
    // indexed, literal name "password").
    let mut d = Decoder::default();
    let mut out = Vec::new();
    d.decode(&hex("040c 2f73 616d 706c 652f 7061 7468"), &mut out)
        .unwrap();
    d.decode(&hex("1008 7061 7373 776f 7264 0673 6563 7265 74"), &mut out)
        .unwrap();
    assert_eq!(out[0].name, b":path");
    assert_eq!(out[0].value, b"/sample/path");
    assert!(!out[0].sensitive);
    assert_eq!(
        (&out[1].name[..], &out[1].value[..]),
        (&b"password"[..], &b"secret"[..])
    );
    assert!(out[1].sensitive);
    assert!(d.table.is_empty());
}

#[test]
fn size_updates() {
    let mut d = Decoder::default();
    block(&mut d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d").unwrap();
    assert_eq!(d.table.len(), 1);
    // To 0 (evicts all), then back to 4096, at the block's start.
    assert_eq!(
        block(&mut d, "20 3fe1 1f 82").unwrap(),
        fields(&[(":method", "GET")])
    );
    assert!(d.table.is_empty());
    assert_eq!(d.max_size, 4096);
    // Over the limit the decoding side allowed.
    let mut d = Decoder::default();
    assert_eq!(
        block(&mut d, "3fe1 3f"),
        Err(HpackError::TableSizeOverLimit {
            size: 8192,
            limit: 4096
        })
    );
    let mut d = Decoder::default();
    d.allow_table_size(8192);
    assert!(block(&mut d, "3fe1 3f 82").is_ok());
    // After a field.
    let mut d = Decoder::default();
    assert_eq!(block(&mut d, "82 20"), Err(HpackError::SizeUpdateNotFirst));
}

#[test]
fn errors_break_the_mirror() {
    let mut d = Decoder::default();
    assert_eq!(block(&mut d, "80"), Err(HpackError::IndexZero));
    assert_eq!(block(&mut d, "82"), Err(HpackError::Broken));
    assert!(d.is_broken());
    let mut d = Decoder::default();
    assert_eq!(
        block(&mut d, "be"),
        Err(HpackError::IndexOutOfRange {
            index: 62,
            dynamic: 0
        })
    );
    let mut d = Decoder::default();
    // A literal whose value's length runs past the block.
    assert_eq!(
        block(&mut d, "4004 6e61 6d65 0576 61"),
        Err(HpackError::Truncated)
    );
    let mut d = Decoder::default();
    // A Huffman value of one byte of ones: too much padding.
    assert_eq!(
        block(&mut d, "4001 6181 ff"),
        Err(HpackError::Huffman(HuffmanError::PaddingTooLong(8)))
    );
}

#[test]
fn an_entry_larger_than_the_table_empties_it() {
    let mut d = Decoder {
        max_size: 64,
        ..Decoder::default()
    };
    block(&mut d, "4001 6101 62").unwrap(); // a: b, 34 bytes
    assert_eq!(d.size, 34);
    // 40 bytes of value: 32 + 1 + 40 > 64.
    let long = "4001 6128".to_string() + &" 78".repeat(40);
    block(&mut d, &long).unwrap();
    assert!(d.table.is_empty());
    assert_eq!(d.size, 0);
}

#[test]
fn the_decoded_list_is_bounded() {
    // One indexed entry of the dynamic table repeated: each copy counts.
    let mut d = Decoder::default();
    // A 4,000-byte value: 127 + 0x21 + (0x1e << 7).
    let value = "7f".to_string() + " a1 1e" + &" 78".repeat(4000);
    block(&mut d, &format!("4001 61{value}")).unwrap();
    let many = " be".repeat(MAX_LIST_SIZE / 4000 + 1);
    assert_eq!(block(&mut d, &many), Err(HpackError::ListTooLarge));
}
