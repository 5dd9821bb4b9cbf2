# The container of make-fixture.sh's "credentials" scenario (busybox sh; make-fixture.sh puts
# DOCKER_AUTH=<base64> and NPM_AUTH=<base64> before it, each base64 of user:password made for
# the run): the registry credentials a build container leaves on disk, as Docker's config.json
# ("auths": {HOST: {"auth": BASE64}}) and npm's .npmrc ("//HOST/:_auth=BASE64") keep them. The
# container's environment holds a third pair, CFW_REGISTRY (make-fixture.sh's ENVS).
echo "cfw: container started"
mkdir -p /root/.docker
printf '{\n\t"auths": {\n\t\t"registry.cfw-creds.example.net": {\n\t\t\t"auth": "%s"\n\t\t}\n\t}\n}\n' "$DOCKER_AUTH" > /root/.docker/config.json
printf '//npm.cfw-creds.example.net/:_auth=%s\nalways-auth=true\n' "$NPM_AUTH" > /root/.npmrc
DOCKER_AUTH= NPM_AUTH=
echo "cfw: registry credentials written"
while :; do sleep 3600; done
