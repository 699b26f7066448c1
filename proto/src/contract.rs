//! The error contract's names, derived from the enums of `corral/v1/common.proto`
//! (`ErrorReason`, `ErrorMetadataKey`, `MetadataHeader`) by the rules written there,
//! so the server, the SDKs and the docs spell each one the same way.

use crate::v1::{ErrorMetadataKey, ErrorReason, MetadataHeader};

/// `ErrorInfo.domain` of every Corral error: the package of the public API.
pub const ERROR_DOMAIN: &str = "corral.v1";
/// [`MetadataHeader::CorralRequestId`] as a constant, for tonic's static metadata keys.
pub const REQUEST_ID_HEADER: &str = "corral-request-id";
/// [`MetadataHeader::CorralLeaderId`] as a constant.
pub const LEADER_ID_HEADER: &str = "corral-leader-id";
/// [`MetadataHeader::Authorization`] as a constant: `Bearer <token>`.
pub const AUTHORIZATION_HEADER: &str = "authorization";

impl ErrorReason {
    /// The `ErrorInfo.reason` string: the value's name (`"VERSION_MISMATCH"`).
    pub fn reason(self) -> &'static str {
        self.as_str_name()
    }

    /// Every reason a status can carry (all but the unspecified zero value). Scans the
    /// whole numbering range, so a gap left by a removed reason hides none after it.
    pub fn all() -> impl Iterator<Item = ErrorReason> {
        (1..1024).filter_map(|n| ErrorReason::try_from(n).ok())
    }
}

impl ErrorMetadataKey {
    /// The `ErrorInfo.metadata` key: the value's name in lower case (`"current_version"`).
    pub fn key(self) -> String {
        self.as_str_name().to_ascii_lowercase()
    }
}

impl MetadataHeader {
    /// The gRPC metadata header: the value's name in lower case, `_` as `-`
    /// (`"corral-request-id"`).
    pub fn header(self) -> String {
        self.as_str_name().to_ascii_lowercase().replace('_', "-")
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn error_domain_is_the_package_of_the_public_api() {
        let set = prost_types::FileDescriptorSet::decode(crate::V1_FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let common = set
            .file
            .iter()
            .find(|f| f.name() == "corral/v1/common.proto")
            .expect("common.proto");
        assert_eq!(common.package(), ERROR_DOMAIN);
    }

    /// proto3 JSON (grpcurl, the gateway, the SDKs' JSON) leaves zero values out, so a
    /// real value at 0 vanishes (`"type": null` for a CREATED event): every enum of the
    /// public API starts with `<NAME>_UNSPECIFIED = 0`.
    #[test]
    fn every_enum_starts_with_unspecified_at_zero() {
        let set = prost_types::FileDescriptorSet::decode(crate::V1_FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let mut enums: Vec<&prost_types::EnumDescriptorProto> = Vec::new();
        fn nested<'a>(
            m: &'a prost_types::DescriptorProto,
            out: &mut Vec<&'a prost_types::EnumDescriptorProto>,
        ) {
            out.extend(&m.enum_type);
            for n in &m.nested_type {
                nested(n, out);
            }
        }
        for file in &set.file {
            enums.extend(&file.enum_type);
            for m in &file.message_type {
                nested(m, &mut enums);
            }
        }
        assert!(enums.len() >= 8, "found only {} enums", enums.len());
        for e in enums {
            let zero = e.value.iter().find(|v| v.number() == 0);
            assert!(
                zero.is_some_and(|v| v.name().ends_with("_UNSPECIFIED")),
                "enum {} has {:?} at 0, not <NAME>_UNSPECIFIED",
                e.name(),
                zero.map(|v| v.name())
            );
        }
    }

    #[test]
    fn names_follow_the_rules_of_common_proto() {
        assert_eq!(ErrorReason::VersionMismatch.reason(), "VERSION_MISMATCH");
        assert_eq!(ErrorMetadataKey::CurrentVersion.key(), "current_version");
        assert_eq!(
            MetadataHeader::CorralRequestId.header(),
            "corral-request-id"
        );
        assert_eq!(MetadataHeader::CorralLeaderId.header(), "corral-leader-id");
        assert_eq!(MetadataHeader::CorralRequestId.header(), REQUEST_ID_HEADER);
        assert_eq!(MetadataHeader::CorralLeaderId.header(), LEADER_ID_HEADER);
        assert_eq!(MetadataHeader::Authorization.header(), AUTHORIZATION_HEADER);
        let all: Vec<_> = ErrorReason::all().collect();
        assert!(all.contains(&ErrorReason::InvalidPath) && all.contains(&ErrorReason::Internal));
        assert!(!all.contains(&ErrorReason::Unspecified));
    }
}
