#include "protocol/test_util.hpp"

#include <warren/protocol/field_table.hpp>

#include <cstring>
#include <doctest/doctest.h>
#include <limits>
#include <string>

using namespace warren::protocol;
using warren::protocol::test::from_hex;
using warren::protocol::test::to_hex;

namespace {

std::string encoded(const field_table& t) {
    std::string out;
    encode_table(t, out);
    return out;
}

result<field_table> decoded(const std::string& bytes) {
    std::string_view in = bytes;
    auto r = decode_table(in);
    if (r) CHECK(in.empty());
    return r;
}

field_table every_type() {
    field_table t;
    t.add("void", field_value{});
    t.add("bool", true);
    t.add("i8", std::int8_t{-5});
    t.add("u8", std::uint8_t{250});
    t.add("i16", std::int16_t{-2});
    t.add("u16", std::uint16_t{65000});
    t.add("i32", std::int32_t{-100000});
    t.add("u32", std::uint32_t{4000000000u});
    t.add("i64", std::numeric_limits<std::int64_t>::min());
    t.add("f32", 1.5f);
    t.add("f64", -2.25);
    t.add("dec", decimal{.scale = 2, .value = 12345});
    t.add("str", std::string("a\0b\xce\xff", 5));
    t.add("bytes", byte_array{std::string("\x00\x01\xce\xff", 4)});
    t.add("arr", field_array{{std::int32_t{1}, "two", field_array{}, field_table{}}});
    t.add("ts", timestamp{1700000000});
    field_table inner;
    inner.add("deep", std::int64_t{42});
    t.add("table", inner);
    return t;
}

}  // namespace

TEST_CASE("every field type round-trips") {
    const field_table t = every_type();
    const std::string bytes = encoded(t);
    auto back = decoded(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == t);
    CHECK(encoded(*back) == bytes);
    std::string tags;
    for (const auto& e : back->entries) tags.push_back(e.value.type_tag());
    CHECK(tags == "VtbBsuIilfdDSxATF");
}

TEST_CASE("exact wire forms (RabbitMQ's tags)") {
    auto one = [](field_value v) {
        std::string out;
        encode_value(v, out);
        return to_hex(out);
    };
    CHECK(one(field_value{}) == "56");
    CHECK(one(true) == "7401");
    CHECK(one(false) == "7400");
    CHECK(one(std::int8_t{-1}) == "62ff");
    CHECK(one(std::uint8_t{0x80}) == "4280");
    CHECK(one(std::int16_t{-2}) == "73fffe");  // 's' is a signed 16-bit integer, not a shortstr
    CHECK(one(std::uint16_t{0x1234}) == "751234");
    CHECK(one(std::int32_t{-1}) == "49ffffffff");
    CHECK(one(std::uint32_t{0x01020304}) == "6901020304");
    CHECK(one(std::int64_t{-2}) == "6cfffffffffffffffe");  // 'l' is signed 64
    CHECK(one(1.0f) == "663f800000");
    CHECK(one(1.0) == "643ff0000000000000");
    CHECK(one(decimal{.scale = 3, .value = 1}) == "440300000001");
    CHECK(one("hi") == "53000000026869");
    CHECK(one(byte_array{"\x01"}) == "780000000101");
    CHECK(one(timestamp{0x0102030405060708}) == "540102030405060708");
    CHECK(one(field_array{{true, std::uint8_t{7}}}) ==
          "41000000047401"
          "4207");
    field_table t;
    t.add("k", "v");
    CHECK(one(t) == "4600000008016b530000000176");
}

TEST_CASE("nested tables and arrays") {
    field_table t;
    field_array arr;
    for (int i = 0; i < 5; ++i) {
        field_table row;
        row.add("i", std::int32_t{i});
        row.add("list", field_array{{field_array{{std::int64_t{i}}}, decimal{1, 2}}});
        arr.values.emplace_back(std::move(row));
    }
    t.add("rows", std::move(arr));
    const std::string bytes = encoded(t);
    auto back = decoded(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == t);
    CHECK(encoded(*back) == bytes);
}

TEST_CASE("duplicate keys keep their order - find, add and set") {
    field_table t;
    t.add("a", std::int32_t{1});
    t.add("b", std::int32_t{2});
    t.add("a", std::int32_t{3});
    auto back = decoded(encoded(t));
    REQUIRE(back.has_value());
    REQUIRE(back->size() == 3);
    CHECK(back->entries[0].name == "a");
    CHECK(back->entries[1].name == "b");
    CHECK(back->entries[2].name == "a");
    CHECK(*back->entries[2].value.get_if<std::int32_t>() == 3);
    CHECK(back->find("a")->as_integer() == 1);
    CHECK(back->find("zz") == nullptr);
    back->set("a", "x");
    CHECK(*back->find("a")->as_string() == "x");
    CHECK(back->size() == 3);
    back->set("c", std::uint8_t{9});
    CHECK(back->size() == 4);
    CHECK(back->find("c")->as_integer() == 9);
}

TEST_CASE("field_value accessors") {
    CHECK(field_value{std::uint32_t{7}}.as_integer() == 7);
    CHECK(field_value{std::int16_t{-7}}.as_integer() == -7);
    CHECK(field_value{std::int64_t{-7}}.as_integer() == -7);
    CHECK_FALSE(field_value{true}.as_integer());
    CHECK_FALSE(field_value{1.0}.as_integer());
    CHECK(*field_value{byte_array{"raw"}}.as_string() == "raw");
    CHECK(field_value{std::int32_t{1}}.as_string() == nullptr);
    CHECK(field_value{}.type_tag() == 'V');
    CHECK(field_value{"s"}.type_tag() == 'S');
}

TEST_CASE("empty table, and decode_table advances the view") {
    const std::string bytes = from_hex(
        "00000000"
        "abcd");
    std::string_view in = bytes;
    auto r = decode_table(in);
    REQUIRE(r.has_value());
    CHECK(r->empty());
    CHECK(in.size() == 2);
}

TEST_CASE("bad tables are errors, never crashes") {
    auto err = [](std::string_view hex) {
        const std::string bytes = from_hex(hex);
        std::string_view in = bytes;
        auto r = decode_table(in);
        REQUIRE(r.has_error());
        CHECK(in.size() == bytes.size());  // not advanced on error
        return r.error();
    };
    CHECK(err("") == error::truncated);
    CHECK(err("000000") == error::truncated);
    CHECK(err("ffffffff") == error::truncated);                    // 4 GiB claimed, none present
    CHECK(err("00000003016b3f") == error::bad_field_type);         // unknown tag '?'
    CHECK(err("00000003016b55") == error::bad_field_type);         // 'U': 0-9-1 but not RabbitMQ
    CHECK(err("00000003016b4c") == error::bad_field_type);         // 'L'
    CHECK(err("00000002016b") == error::truncated);                // name without a value
    CHECK(err("0000000105") == error::truncated);                  // name longer than the table
    CHECK(err("0000000a016b53ffffffff0000") == error::truncated);  // longstr overruns the table
    CHECK(err("00000006016b41ffffff") == error::truncated);        // array size > remaining
    CHECK(err("00000006016b78fffffff0") == error::truncated);      // byte array 4 GiB
    // An entry may not borrow bytes that lie after its table.
    CHECK(err("00000003016b49"
              "00000001") == error::truncated);
}

TEST_CASE("truncated tables at every length") {
    const std::string bytes = encoded(every_type());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        std::string cut = bytes.substr(0, n);
        std::string_view in = cut;
        auto r = decode_table(in);
        REQUIRE_MESSAGE(r.has_error(), "cut at ", n);
    }
}

TEST_CASE("nesting depth limit") {
    // depth tables nested inside each other, each holding one entry "n".
    auto nested_tables = [](int depth) {
        field_table t;
        for (int i = 1; i < depth; ++i) {
            field_table outer;
            outer.add("n", std::move(t));
            t = std::move(outer);
        }
        return t;
    };
    auto ok = decoded(encoded(nested_tables(max_field_nesting)));
    REQUIRE(ok.has_value());
    CHECK(*ok == nested_tables(max_field_nesting));
    auto deep = decoded(encoded(nested_tables(max_field_nesting + 1)));
    REQUIRE(deep.has_error());
    CHECK(deep.error() == error::nesting_too_deep);

    // Arrays count as levels too: a table holding 64 nested arrays is 65 levels.
    field_value v{field_array{}};
    for (int i = 0; i < max_field_nesting - 1; ++i) v = field_value{field_array{{std::move(v)}}};
    field_table t;
    t.add("a", std::move(v));
    auto arrays = decoded(encoded(t));
    REQUIRE(arrays.has_error());
    CHECK(arrays.error() == error::nesting_too_deep);

    // A hostile, well-formed input 10000 tables deep: rejected at level 65, not by the stack.
    // Level j (counted from the innermost, empty table) has a content size of 7 * j bytes.
    std::string hostile;
    for (std::uint32_t j = 10000; j >= 1; --j) {
        const std::uint32_t size = 7 * j;
        const char header[7] = {static_cast<char>(size >> 24),
                                static_cast<char>(size >> 16),
                                static_cast<char>(size >> 8),
                                static_cast<char>(size),
                                1,
                                'a',
                                'F'};
        hostile.append(header, 7);
    }
    hostile += from_hex("00000000");
    auto h = decoded(hostile);
    REQUIRE(h.has_error());
    CHECK(h.error() == error::nesting_too_deep);
}
