#include <warren/protocol/methods.hpp>

#include <doctest/doctest.h>
#include <type_traits>

using namespace warren::protocol;

TEST_CASE("generated structs carry the spec's ids, names and traits") {
    static_assert(queue_declare::class_id_v == 50 && queue_declare::method_id_v == 10);
    static_assert(queue_declare::name_v == "queue.declare");
    static_assert(queue_declare::synchronous_v && !queue_declare::has_content_v);
    static_assert(basic_publish::has_content_v && basic_deliver::has_content_v &&
                  basic_return::has_content_v && basic_get_ok::has_content_v);
    static_assert(!basic_ack::has_content_v && !basic_ack::synchronous_v);
    static_assert(exchange_unbind_ok::method_id_v == 51);
    static_assert(confirm_select::class_id_v == 85 && tx_commit_ok::class_id_v == 90);
    static_assert(basic_recover_async::method_id_v == 100 && basic_nack::method_id_v == 120);
    static_assert(connection_update_secret_ok::method_id_v == 71);
    static_assert(access_request::class_id_v == 30);
    // connection.close carries fields named class_id / method_id next to the static ids.
    static_assert(std::is_same_v<decltype(connection_close::class_id), std::uint16_t>);
    static_assert(std::is_same_v<decltype(channel_close::method_id), std::uint16_t>);
    static_assert(std::variant_size_v<method> == method_count);
    static_assert(std::is_same_v<std::variant_alternative_t<0, method>, connection_start>);
    static_assert(
        std::is_same_v<std::variant_alternative_t<method_count - 1, method>, tx_rollback_ok>);
    CHECK(method_count == 66);
}

TEST_CASE("field types and defaults follow the spec JSON") {
    connection_start start;
    CHECK(start.version_major == 0);
    CHECK(start.version_minor == 9);
    CHECK(start.mechanisms == "PLAIN");
    CHECK(start.locales == "en_US");
    CHECK(start.server_properties.empty());
    CHECK(connection_open{}.virtual_host == "/");
    CHECK(exchange_declare{}.type == "direct");
    CHECK(basic_reject{}.requeue);
    CHECK(basic_nack{}.requeue);
    CHECK(access_request_ok{}.ticket == 1);
    CHECK(access_request{}.realm == "/data");
    CHECK(access_request{}.passive);
    static_assert(std::is_same_v<decltype(basic_deliver::delivery_tag), std::uint64_t>);
    static_assert(std::is_same_v<decltype(queue_declare::arguments), field_table>);
    static_assert(std::is_same_v<decltype(connection_secure::challenge), std::string>);
    static_assert(std::is_same_v<decltype(basic_qos::global), bool>);
    static_assert(std::is_same_v<decltype(basic_qos::prefetch_size), std::uint32_t>);
    static_assert(std::is_same_v<decltype(connection_tune::channel_max), std::uint16_t>);
}

TEST_CASE("structs compare by value") {
    queue_declare a{.queue = "q", .durable = true};
    queue_declare b = a;
    CHECK(a == b);
    b.arguments.add("x-max-length", std::int32_t{10});
    CHECK(a != b);
    method ma = a;
    method mb = basic_ack{};
    CHECK(ma != mb);
}
