#pragma once
// What a handler decided about its message, when it decides explicitly (a handler that just
// returns acks; one that throws retries).

#include <string>
#include <utility>

namespace warren {

/// A handler's explicit decision. Return it from a handler declared as
/// `asio::awaitable<warren::verdict>(warren::message_context&)`.
class verdict {
  public:
    enum class kind {
        ack,          ///< done: acknowledge the message
        retry,        ///< failed: retry it as the worker's retry policy says (counts an attempt)
        dead_letter,  ///< give up now: to the error queue, without further attempts
    };

    /// Done.
    static verdict ack() { return verdict(kind::ack, {}); }
    /// Failed with `reason`: retried by the policy (delayed through the broker, or at once),
    /// and dead-lettered once the attempts are used up.
    static verdict retry(std::string reason) { return verdict(kind::retry, std::move(reason)); }
    /// Not worth retrying (bad input, a business rule): to the error queue at once, with
    /// `reason` as its x-exception-message.
    static verdict dead_letter(std::string reason) {
        return verdict(kind::dead_letter, std::move(reason));
    }

    kind what() const noexcept { return kind_; }
    const std::string& reason() const noexcept { return reason_; }

  private:
    verdict(kind k, std::string reason) : kind_(k), reason_(std::move(reason)) {}
    kind kind_;
    std::string reason_;
};

}  // namespace warren
