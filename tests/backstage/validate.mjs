// Validates Backstage entities the way the catalog does when it ingests them: the entity
// policies (envelope, namespace, field formats, no foreign root fields) and the validator of the
// entity's kind. Reads a JSON list of entities on stdin; prints a JSON list of problems (empty
// when every entity is valid) and exits 1 when there are any.
import {
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  locationEntityV1alpha1Validator,
  NoForeignRootFieldsEntityPolicy,
  resourceEntityV1alpha1Validator,
  SchemaValidEntityPolicy,
  systemEntityV1alpha1Validator,
} from "@backstage/catalog-model";

const policy = EntityPolicies.allOf([
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
  new SchemaValidEntityPolicy(),
]);
const validators = [
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
];

let input = "";
for await (const chunk of process.stdin) input += chunk;
const problems = [];
for (const entity of JSON.parse(input)) {
  const name = `${entity.kind}:${entity.metadata?.name}`;
  try {
    const enforced = await policy.enforce(entity);
    const results = await Promise.all(validators.map((v) => v.check(enforced)));
    if (!results.includes(true)) problems.push({ entity: name, error: "no validator accepts this kind" });
  } catch (error) {
    problems.push({ entity: name, error: String(error.message ?? error) });
  }
}
console.log(JSON.stringify(problems));
process.exitCode = problems.length ? 1 : 0;
