# Loads vagrant/Vagrantfile with a stand-in for Vagrant's configuration objects and writes
# every machine's inline shell provisioner to OUTDIR/<machine>.sh, so a test can check
# them (bash -n) without Vagrant, VMs or a network. Trigger code (`t.ruby`) is not run.
# Usage: ruby vagrant_scripts.rb VAGRANTFILE OUTDIR
require "fileutils"

# Records nothing but inline provisioners; runs every configuration block except triggers'
# Ruby bodies.
class Recorder
  def initialize(machine, scripts)
    @machine = machine
    @scripts = scripts
  end

  def method_missing(name, *args, **kw, &blk)
    case name
    when :define
      blk&.call(Recorder.new(args.first.to_s, @scripts))
    when :provision
      (@scripts[@machine] ||= []) << kw[:inline] if kw[:inline]
    when :ruby
      nil
    else
      blk&.call(Recorder.new(@machine, @scripts))
    end
    self
  end

  def respond_to_missing?(*)
    true
  end
end

module Vagrant
  SCRIPTS = {}
  def self.configure(_version)
    yield Recorder.new("default", SCRIPTS)
  end
end

vagrantfile, outdir = ARGV
FileUtils.mkdir_p(outdir)
load File.expand_path(vagrantfile)
abort "no provisioners found" if Vagrant::SCRIPTS.empty?
Vagrant::SCRIPTS.each do |machine, scripts|
  File.write(File.join(outdir, "#{machine}.sh"), scripts.join("\n"))
  puts machine
end
