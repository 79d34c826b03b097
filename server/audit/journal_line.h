#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/audit/audit.h"

namespace server::audit {

// One AuditEvent as the audit journal keeps it until it becomes a resource: the parts of its
// Event that AuditEventJson reads (the body only when it is an error's OperationOutcome), the
// patients found for it, and the id and lastUpdated it will have. A JSON array of about 200
// bytes: a fifth of the AuditEvent it becomes, and a tenth of the CPU to write (the journal is
// on every request's path; the AuditEvent is built later, off it).
struct JournaledEvent {
  Event event;
  std::vector<std::string> patients;
  std::string id;
  std::string last_updated;
};

std::string EncodeJournalLine(const Event& event, const std::vector<std::string>& patients,
                              std::string_view id, std::string_view last_updated);
// nullopt when `line` is not one EncodeJournalLine wrote.
std::optional<JournaledEvent> DecodeJournalLine(std::string_view line);

}  // namespace server::audit
