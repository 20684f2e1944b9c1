#include "common/messages.h"

namespace backbeat {

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPlan:
      return "plan";
    case Phase::kExecute:
      return "execute";
    case Phase::kReview:
      return "review";
  }
  return "?";
}

const char* ClaimStateName(ClaimState state) {
  switch (state) {
    case ClaimState::kIdle:
      return "idle";
    case ClaimState::kPlanning:
      return "planning";
    case ClaimState::kExecuting:
      return "executing";
    case ClaimState::kReviewing:
      return "reviewing";
    case ClaimState::kCompleted:
      return "completed";
    case ClaimState::kFailed:
      return "failed";
    case ClaimState::kBlocked:
      return "blocked";
    case ClaimState::kHelping:
      return "helping";
  }
  return "?";
}

const char* SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "?";
}

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kBeatFrame:
      return "beatframe";
    case MessageType::kStatusClaim:
      return "statusclaim";
    case MessageType::kBarReport:
      return "barreport";
  }
  return "?";
}

MessageType TypeOf(const Message& message) {
  return static_cast<MessageType>(message.index());
}

}  // namespace backbeat
