#pragma once
// `race(a, b)`: Asio's experimental awaitable `||` behind a stable name, because the
// experimental API moves between Boost versions. The first operation to *succeed*
// wins and the other is cancelled (terminal) and awaited; the result says which one won.
// Warren's awaitables are cancel-safe under race(): a cancelled consumer::next() leaves its
// delivery in the stream, a cancelled publish keeps its confirm bookkeeping.

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <utility>

namespace warren::detail {

template <class A, class B>
auto race(A a, B b) {
    using namespace boost::asio::experimental::awaitable_operators;
    return std::move(a) || std::move(b);
}

}  // namespace warren::detail
