// The list of rule families the audit runs, in order.
#include "dataset/audit_rules.h"

namespace lathe {

const std::vector<AuditRule>& audit_rules() {
  static const std::vector<AuditRule> rules = {
      {"scan", audit_scan_rules},
      {"captions", audit_caption_rules},
      {"near-duplicate tags", audit_near_duplicate_tags},
      {"images", audit_image_rules},
      {"activation tags", audit_activation_rules},
      {"tag statistics", audit_tag_stat_rules},
      {"repeats", audit_repeats_rules},
      {"class tokens", audit_class_token_rules},
      {"buckets", audit_bucket_rules},
      {"tokens", audit_token_rules},
  };
  return rules;
}

}  // namespace lathe
